"""What is around, read with the map pass (accounts/map_pass.py, response/api.py): the same
scope as the session, and only the reads without personal data."""

from __future__ import annotations

import json

import pytest

from accounts import map_pass
from geo import crs
from registry.models.events import ResourceType
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db

API = "/response/api"


def pass_of(user) -> dict[str, str]:
    return {"HTTP_X_MAP_PASS": map_pass.issue(user)["token"]}


def call(client, path: str, **headers) -> tuple[int, dict[str, str], bytes]:
    response = client.get(path, **headers)
    return response.status_code, response.headers, response.content


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


def test_around_reads_with_the_pass(client, responders, around):
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
        status, answer, body = call(client, path, **headers)
        assert status == 200, (path, body[:300])
        assert answer["Cache-Control"] == "private, no-store"
        assert {"Cookie", "X-Map-Pass"} <= set(answer["Vary"].split(", "))
        assert "Set-Cookie" not in answer
    found = json.loads(call(client, paths[6], **headers)[2])
    assert found["total"] >= 4 and found["radii_m"] == {"1000": 50000.0, "filling": 50000.0}


def test_a_county_pass_reads_only_its_county(client, responders, users, around):
    path = query("around/resources", point=here(), k=20, type=",".join(ResourceType.values))
    theirs = {r.pk for r in around["resources"][XIXIA]}
    mine = {r.pk for r in around["resources"][XINGQING]}
    for credential, expected in ((responders["xingqing"], mine), (users["city"], mine | theirs)):
        body = json.loads(call(client, path, **pass_of(credential))[2])
        seen = {r["id"] for rows in body["resources"].values() for r in rows}
        assert seen == expected
    path = query("around/equipment", point=here(), radius=50000, kind="1000")
    body = json.loads(call(client, path, **pass_of(responders["xingqing"]))[2])
    assert {i["id"] for i in body["items"]} == {b.pk for b in around["boilers"][XINGQING]}


def test_every_refusal_names_the_field(client, responders, around):
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
        status, answer, body = call(client, path, **credential)
        assert status == expected, (path, body[:300])
        if field:
            assert field in json.loads(body)["errors"], path
    assert answer["WWW-Authenticate"] == "MapPass"  # a refused pass: renew it
    # An analyst reads what is around (no personal data in it).
    path = query("around/resources", point=here())
    assert call(client, path, **pass_of(responders["analyst"]))[0] == 200


def test_the_pass_opens_only_the_reads_without_personal_data(client, responders, around):
    headers = pass_of(responders["xingqing"])
    boiler = around["boilers"][XINGQING][0]
    # The combined answer carries the equipment card with its contacts: the session's, in Django.
    for path in (
        query("around", equipment=boiler.pk),
        f"{API}/equipment/{boiler.pk}/",
        query("locate", code=boiler.device_code),
    ):
        status, _, _ = call(client, path, **headers)
        assert status == 403, path
