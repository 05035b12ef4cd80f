"""A schema fuzz run (issue 17): schemathesis generates requests from `/api/schema/` and sends them
to the WSGI application as a county supervisor; no answer may be a server error.

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
def api_schema(client, county_session):
    yield from load(client, "/api/schema/?format=json")


@pytest.fixture
def ogc_schema(client, county_session):
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
def test_no_api_input_is_a_server_error(case, county_session):
    case.call_and_validate(**county_session, checks=[not_a_server_error])


@schemathesis.pytest.from_fixture("ogc_schema").parametrize()
@FUZZ
def test_no_ogc_api_input_is_a_server_error(case, county_session):
    case.call_and_validate(**county_session, checks=[not_a_server_error])
