"""Legacy rows with an empty geometry (`POINT EMPTY`, stored before the registry's constraint
refused them) leave every page and answer working: they are skipped like rows with no location
(issue 17: one such row broke the home page, detail pages, response and patrol with a 500)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from registry.models import EmergencyResource, Equipment, Unit
from registry.models.events import ResourceType
from tests.common.legacy import drop_empty_geometry_checks, make_empty
from tests.conftest import XINGQING, inside

pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy(make_equipment) -> dict[str, Equipment]:
    """A device and its use unit with empty locations, beside a device placed as usual."""
    placed = make_equipment(XINGQING, rescue_id="961112")
    empty = make_equipment(XINGQING, rescue_id="961111")
    resources = [
        EmergencyResource.objects.create(
            name=f"救援队{i}",
            resource_type=ResourceType.values[0],
            location=inside(XINGQING),
            region_id=XINGQING,
        )
        for i in range(2)
    ]
    drop_empty_geometry_checks()
    make_empty(Equipment, empty.pk)
    make_empty(Unit, empty.use_unit_id)
    make_empty(EmergencyResource, resources[0].pk)
    empty.refresh_from_db()
    assert empty.location is not None and empty.location.empty  # the legacy state, as stored
    return {"placed": placed, "empty": empty}


@pytest.fixture
def supervisor(users) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(users["xingqing"])
    return client


def pages(legacy) -> list[str]:
    return [
        "/",
        "/map/",
        "/response/",
        "/patrol/",
        f"/equipment/{legacy['placed'].pk}/",
    ]


def test_the_pages_answer_with_an_empty_location_present(supervisor, legacy):
    for url in pages(legacy):
        response = supervisor.get(url)
        assert response.status_code == 200, (url, response.content[:300])


@pytest.mark.parametrize("kind", ["equipment", "units"])
def test_the_detail_page_of_the_row_itself_answers(supervisor, legacy, kind):
    empty = legacy["empty"]
    pk = empty.pk if kind == "equipment" else empty.use_unit_id
    response = supervisor.get(f"/{kind}/{pk}/")
    assert response.status_code == 200, response.content[:300]


def api_urls(legacy) -> dict[str, int]:
    """Each read with the status it answers: the empty row is served as stored, found by no
    search for a place, and refused by name where a place is needed."""
    empty, placed = legacy["empty"], legacy["placed"]
    point = inside(XINGQING)
    return {
        "/api/equipment/": 200,
        f"/api/equipment/{empty.pk}/": 200,
        "/api/units/": 200,
        "/api/geojson/overdue?bbox=105,37,108,40": 200,
        "/api/geojson/units?bbox=105,37,108,40": 200,
        "/tiles/equipment/count?bbox=105,37,108,40": 200,
        "/tiles/equipment/14/13524/6213.pbf": 200,
        "/tiles/equipment/6/52/24.pbf": 200,
        f"/response/api/locate/?code={empty.rescue_id}": 400,  # code.not_found: no place
        f"/response/api/around/?equipment={empty.pk}": 400,  # equipment.no_location
        f"/response/api/around/?equipment={placed.pk}": 200,
        f"/response/api/around/?point={point.x},{point.y}": 200,
        f"/response/api/around/equipment/?point={point.x},{point.y}": 200,
        f"/response/api/equipment/{empty.pk}/": 200,
        "/patrol/api/coverage/": 200,
        "/ogcapi/collections/equipment/items?f=json": 200,
        "/ogcapi/collections/units/items?f=json&bbox=105,37,108,40": 200,
        "/ogcapi/collections/resources/items?f=json": 200,
    }


def test_the_api_answers_each_read(supervisor, legacy):
    answered = {url: supervisor.get(url).status_code for url in api_urls(legacy)}
    assert answered == api_urls(legacy)


def test_the_listing_shows_the_row_with_its_empty_point(supervisor, legacy):
    features = supervisor.get("/api/equipment/").json()["results"]["features"]
    by_id = {f["id"]: f for f in features}
    # RFC 7946 §3.1: an empty coordinates array, which readers may take for a null geometry.
    assert by_id[legacy["empty"].pk]["geometry"] == {"type": "Point", "coordinates": []}
    assert len(by_id[legacy["placed"].pk]["geometry"]["coordinates"]) == 2


def test_a_patrol_plan_and_its_routes_skip_the_empty_row(supervisor, legacy):
    period = {"from": "2026-03-02", "to": (dt.date(2026, 3, 2) + dt.timedelta(days=30)).isoformat()}
    plan = supervisor.post(
        "/patrol/api/plans/", {"period": period}, content_type="application/json"
    )
    assert plan.status_code == 201, plan.content[:300]
    pk = plan.json()["id"]
    routes = supervisor.post(
        f"/patrol/api/plans/{pk}/routes/",
        {"teams": {"count": 1, "hours": 8}, "days": 1},
        content_type="application/json",
    )
    assert routes.status_code == 201, routes.content[:300]
    stops = {s["candidate"] for day in routes.json()["routes"] for s in day["stops"]}
    candidates = {c["id"]: c for c in plan.json()["candidate_list"]}
    assert all(candidates[c]["equipment"] != legacy["empty"].pk for c in stops if c in candidates)
    for url in (f"/patrol/plans/{pk}/", f"/patrol/plans/{pk}/routes.geojson"):
        assert supervisor.get(url).status_code == 200, url
