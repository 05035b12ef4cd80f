"""What is around, read with the map pass in front of Django (layers/pass_front.py, response/api.py).

Both sides are WSGI applications called as a server calls them, as in the tile fast path's tests:
`config.wsgi.application` answers a pass-carrying around/resources or around/equipment itself, and
leaves every refusal to the view behind Django. The database is committed for real
(transactional_db): the fast path gives its connection back to the pool after each answer.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.wsgi import application, django_application
from geo import crs
from layers import pass_front
from registry.models.events import ResourceType
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions
from tests.layers.test_pass_front import Reached, call, pass_of

pytestmark = pytest.mark.django_db(transaction=True)

API = "/response/api"


@pytest.fixture(autouse=True)
def regions(transactional_db):
    load_test_regions()  # a transactional test empties the database after it


@pytest.fixture
def django_reached():
    reached = Reached()
    return pass_front.PassFront(reached), reached


@pytest.fixture
def around(make_equipment, make_unit, make_resources):
    """Resources and hazards on both sides of the 兴庆区 / 西夏区 line."""
    resources = {
        code: make_resources(code, 30, seed=seed) for code, seed in ((XINGQING, 1), (XIXIA, 2))
    }
    boilers = {
        code: [make_equipment(code, variety_code="1100") for _ in range(3)]
        for code in (XINGQING, XIXIA)
    }
    station = make_unit(roles=("filling",), name="兴庆加气站")
    return {"resources": resources, "boilers": boilers, "station": station}


def here(code: str = XINGQING) -> str:
    point = inside(code)
    return f"{point.x},{point.y}"


def query(path: str, **params) -> str:
    return f"{API}/{path}/?" + "&".join(f"{name}={value}" for name, value in params.items())


def same_answer(path: str, **headers) -> tuple[int, dict, bytes]:
    """The fast path's answer and the view's through Django, the same bytes; the first returned."""
    fast = call(application, path, **headers)
    slow = call(django_application, path, **headers)
    assert (fast[0], fast[2]) == (slow[0], slow[2]), (path, fast[2][:300], slow[2][:300])
    for name in ("Content-Type", "Cache-Control", "X-Content-Type-Options", "X-Frame-Options"):
        assert fast[1][name] == slow[1][name], name
    assert {"Cookie", "X-Map-Pass"} <= set(fast[1]["Vary"].split(", "))
    assert "Set-Cookie" not in fast[1]
    return fast


def test_around_reads_are_the_views_byte_for_byte(responders, around, django_reached):
    fast, reached = django_reached
    headers = pass_of(responders["xingqing"])
    boiler = around["boilers"][XINGQING][0]
    gcj02 = crs.from_wgs84(*inside(XINGQING).coords, crs.CRS.GCJ02)
    paths = [
        query("around/resources", point=here()),
        query("around/resources", point=here(), k=5, type="fire_station,hospital"),
        query("around/resources", click=here()),
        query("around/resources", point=f"{gcj02[0]},{gcj02[1]}", crs="gcj02"),
        query("around/resources", equipment=boiler.pk, k=1),
        query("around/equipment", point=here()),
        query("around/equipment", point=here(), radius=50000, kind="1000,filling"),
        query("around/equipment", equipment=boiler.pk, radius=20000, kind="1000"),
    ]
    for path in paths:
        status, answer, body = same_answer(path, **headers)
        assert status == 200, (path, body[:300])
        assert answer["Cache-Control"] == "private, no-store"
        call(fast, path, **headers)
    assert reached.paths == []  # every one answered in front of Django
    found = json.loads(call(application, paths[6], **headers)[2])
    assert found["total"] >= 4 and found["radii_m"] == {"1000": 50000.0, "filling": 50000.0}


def test_a_county_pass_reads_only_its_county(responders, users, around):
    path = query("around/resources", point=here(), k=20, type=",".join(ResourceType.values))
    theirs = {r.pk for r in around["resources"][XIXIA]}
    mine = {r.pk for r in around["resources"][XINGQING]}
    for credential, expected in ((responders["xingqing"], mine), (users["city"], mine | theirs)):
        body = json.loads(call(application, path, **pass_of(credential))[2])
        seen = {r["id"] for rows in body["resources"].values() for r in rows}
        assert seen == expected
    path = query("around/equipment", point=here(), radius=50000, kind="1000")
    body = json.loads(call(application, path, **pass_of(responders["xingqing"]))[2])
    assert {i["id"] for i in body["items"]} == {b.pk for b in around["boilers"][XINGQING]}


def test_every_refusal_is_the_views_own(responders, around, django_reached):
    fast, reached = django_reached
    headers = pass_of(responders["xingqing"])
    their_boiler = around["boilers"][XIXIA][0]
    refused = [
        (query("around/resources", point=here(), k=0), headers, 400, "k"),
        (query("around/resources", point=here(), type="helicopter"), headers, 400, "type"),
        (query("around/resources", point="106.5,91"), headers, 400, "point"),
        (query("around/resources", point="38.47,106.27"), headers, 400, "point"),  # swapped
        (query("around/resources", point=here(), crs="epsg:3857"), headers, 400, "crs"),
        (query("around/resources", point=here(XIXIA)), headers, 400, "point"),  # not mine
        (query("around/equipment", equipment=their_boiler.pk), headers, 400, "equipment"),
        (query("around/equipment", point=here(), radius=-5), headers, 400, "radius"),
        (query("around/equipment", point=here()), pass_of(responders["enterprise"]), 403, None),
        (query("around/equipment", point=here()), {"HTTP_X_MAP_PASS": "forged"}, 401, None),
    ]
    for path, credential, expected, field in refused:
        status, answer, body = call(fast, path, **credential)
        assert reached.paths[-1] == path.partition("?")[0], path  # Django answered it
        assert status == expected, (path, body[:300])
        assert (status, body) == call(django_application, path, **credential)[::2]
        if field:
            assert field in json.loads(body)["errors"], path
    assert answer["WWW-Authenticate"] == "MapPass"  # a refused pass: renew it
    # An analyst reads what is around (no personal data in it), in front of Django.
    path = query("around/resources", point=here())
    assert call(fast, path, **pass_of(responders["analyst"]))[0] == 200
    assert reached.paths[-1] != path.partition("?")[0]


def test_the_pass_opens_only_the_reads_without_personal_data(responders, around, django_reached):
    fast, reached = django_reached
    headers = pass_of(responders["xingqing"])
    boiler = around["boilers"][XINGQING][0]
    # The combined answer carries the equipment card with its contacts: the session's, in Django.
    for path in (
        query("around", equipment=boiler.pk),
        f"{API}/equipment/{boiler.pk}/",
        query("locate", code=boiler.device_code),
    ):
        status, _, _ = call(fast, path, **headers)
        assert reached.paths[-1] == path.partition("?")[0]
        assert status == 403, path


def test_a_fast_answer_is_one_or_two_statements(responders, around):
    headers = pass_of(responders["xingqing"])
    for path, statements in (
        # No session, no user: the county of the point with the nearest resources' first step,
        (query("around/resources", point=here(), k=5), 1),
        # or the county, then the hazards within their radii.
        (query("around/equipment", point=here(), radius=5000, kind="1000,2000,3000,filling"), 2),
    ):
        call(application, path, **headers)
        with CaptureQueriesContext(connection) as captured:
            assert call(application, path, **headers)[0] == 200
        assert len(captured) == statements, [q["sql"][:80] for q in captured]
        assert connection.connection is None  # given back to the pool
