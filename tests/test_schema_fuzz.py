"""A schema fuzz run (issue 17): schemathesis generates requests from `/api/schema/` and from OGC
API - Features' own OpenAPI, and sends them to the WSGI application as a county supervisor; no
answer may be a server error. Half the ids it makes up name records of the county, so that reads
and writes meet real rows and not only 404s.

The budget is a fixed number of examples per operation with derandomised generation, so a run
makes the same requests every time and its length does not depend on the machine's speed.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.middleware.csrf import get_token
from django.test import RequestFactory
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.conftest import XINGQING, XIXIA

pytestmark = pytest.mark.django_db

# Examples per operation and mode, beyond the edge cases schemathesis derives from the schema:
# small enough that the whole schema runs in about two minutes on the CI machine.
EXAMPLES = 10


@pytest.fixture
def county_session(client, users, make_equipment) -> dict[str, dict[str, str]]:
    """The cookies and CSRF header of a signed-in county supervisor, with rows in and out of
    the county so that reads and writes meet real data."""
    make_equipment(XINGQING)
    make_equipment(XIXIA)
    client.force_login(users["xingqing"])
    token = get_token(RequestFactory().get("/"))
    return {
        "cookies": {
            settings.SESSION_COOKIE_NAME: client.session.session_key,
            settings.CSRF_COOKIE_NAME: token,
        },
        "headers": {"X-CSRFToken": token},
    }


def load(client, path: str):
    """The schema served at `path`, read as the signed-in county user, for requests to the WSGI
    application; fuzzed with values outside it too (a limit over its maximum, a string for an
    id): each must be refused with a 4xx, not fail."""
    from config.wsgi import application

    loaded = schemathesis.openapi.from_dict(client.get(path).json())
    loaded.app = application
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    # As Django's test client does: the request signals would otherwise close the connection
    # that holds the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield loaded
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def records(client, county_session, make_equipment) -> dict[str, int]:
    """Records of the county, by the schema paths that may name them: a patrol plan with its
    routes, a candidate and a stop, besides the session's devices."""
    device = make_equipment(XINGQING, rescue_id="961234")
    plan = client.post(
        "/patrol/api/plans/",
        {"period": {"from": "2026-03-02", "to": "2026-03-31"}},
        content_type="application/json",
    ).json()
    routes = client.post(
        f"/patrol/api/plans/{plan['id']}/routes/",
        {"teams": {"count": 1, "hours": 8}, "days": 1},
        content_type="application/json",
    ).json()
    stop = routes["routes"][0]["stops"][0]["id"]
    return {
        "/api/equipment/{id}/": device.pk,
        "/api/equipment/{id}/inspections/": device.pk,
        "/api/units/{id}/": device.use_unit_id,
        "/api/regions/{id}/": XINGQING,
        "/response/api/equipment/{id}/": device.pk,
        "/patrol/api/plans/{id}/": plan["id"],
        "/patrol/api/plans/{id}/routes/": plan["id"],
        "/patrol/api/plans/{id}/reoptimise/": plan["id"],
        "/patrol/plans/{id}/routes.geojson": plan["id"],
        "/patrol/plans/{id}/routes.gpx": plan["id"],
        "/patrol/api/candidates/{id}/": plan["candidate_list"][0]["id"],
        "/patrol/api/stops/{id}/move/": stop,
        "/patrol/api/stops/{id}/result/": stop,
        "/collections/equipment/items/{featureId}": device.pk,
    }


def aim(case, records: dict[str, int]) -> None:
    """Every other made-up id (the even ones) becomes the county's record at that path."""
    parameters = case.path_parameters or {}
    for name, value in parameters.items():
        if case.path in records and isinstance(value, int) and value % 2 == 0:
            parameters[name] = records[case.path]


# After `records`: the test client reconnects the signals `load` disconnects.
@pytest.fixture
def api_schema(client, county_session, records):
    yield from load(client, "/api/schema/?format=json")


@pytest.fixture
def ogc_schema(client, county_session, records):
    # OGC API - Features describes itself apart (its landing page's service-desc).
    yield from load(client, "/ogcapi/api?f=json")


FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@schemathesis.pytest.from_fixture("api_schema").parametrize()
@FUZZ
def test_no_api_input_is_a_server_error(case, county_session, records):
    aim(case, records)
    case.call_and_validate(**county_session, checks=[not_a_server_error])


@schemathesis.pytest.from_fixture("ogc_schema").parametrize()
@FUZZ
def test_no_ogc_api_input_is_a_server_error(case, county_session, records):
    aim(case, records)
    case.call_and_validate(**county_session, checks=[not_a_server_error])
