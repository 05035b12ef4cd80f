"""Nearest resources and equipment within radius equal a brute-force geodesic search.

The reference distances come from PROJ's geodesics (pyproj.Geod on WGS84) over every row, or, for
pipelines, PostGIS geography over every row; the code under test reads a KNN index and a box.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.db import connection
from django.test.utils import CaptureQueriesContext

from geo.models import Region
from registry import services
from registry.models import EmergencyResource, Equipment, Unit, UnitRole
from registry.models.events import ResourceType
from response import around, conf, nearby
from response.exceptions import ResponseError
from response.locate import at_coordinates
from tests.conftest import XINGQING, XIXIA, YINCHUAN, inside
from tests.response.conftest import metres, scatter

pytestmark = pytest.mark.django_db

ABOUT_A_MILLIMETRE = 1e-3


def brute_nearest(rows, point: Point, k: int) -> dict[str, list[tuple[int, float]]]:
    by_type: dict[str, list[tuple[float, int]]] = {}
    for resource in rows:
        by_type.setdefault(resource.resource_type, []).append(
            (metres(point, resource.location), resource.pk)
        )
    return {kind: [(pk, d) for d, pk in sorted(found)[:k]] for kind, found in by_type.items()}


def assert_same(found: dict[str, list[dict]], expected: dict[str, list[tuple[int, float]]]):
    for kind in ResourceType.values:
        got = [(r["id"], r["distance_m"]) for r in found.get(kind, [])]
        want = expected.get(kind, [])
        assert [pk for pk, _ in got] == [pk for pk, _ in want], kind
        for (_, d1), (_, d2) in zip(got, want, strict=True):
            assert abs(d1 - d2) < ABOUT_A_MILLIMETRE


@pytest.fixture
def scattered(make_resources):
    """Resources in both Yinchuan districts, ~25 of each type."""
    return make_resources(XINGQING, 90, seed=1) + make_resources(XIXIA, 60, seed=2)


@pytest.fixture(params=["settled by candidates", "always read again"])
def candidates(request, monkeypatch):
    """The first step's candidates as shipped, and cut to k, so that the second step (every row
    within the reach) runs nearly every time: both paths must give the brute-force answer."""
    if request.param == "always read again":
        monkeypatch.setattr(nearby, "CANDIDATES_PER_K", 1)
        monkeypatch.setattr(nearby, "MIN_CANDIDATES", 1)
    return request.param


@pytest.mark.parametrize("k", [1, 3, 7])
def test_nearest_resources_equal_a_brute_force_geodesic_search(users, scattered, candidates, k):
    user = users["city"]
    for point in scatter(XINGQING, 6, seed=11) + scatter(XIXIA, 4, seed=12):
        found = nearby.nearest_resources(user, point, ResourceType.values, k)
        assert_same(found, brute_nearest(scattered, point, k))


@pytest.mark.parametrize("k", [1, 3])
def test_a_search_read_with_the_county_is_the_same_search(users, scattered, candidates, k):
    """The county and the first step in one statement (CountyAndCandidates, as the API reads
    them) give the county `Region.locate` gives and the brute-force nearest, both steps."""
    for credential, code in (("city", XINGQING), ("xingqing", XINGQING), ("city", XIXIA)):
        user = users[credential]
        visible = [r for r in scattered if r.region_id.startswith(user.jurisdiction_prefix)]
        for point in scatter(code, 4, seed=15):
            prefetched = nearby.CountyAndCandidates(user, ResourceType.values, k)
            with CaptureQueriesContext(connection) as captured:
                located = at_coordinates(
                    user, f"{point.x},{point.y}", county_of=prefetched.county_of
                )
            assert len(captured) == 1
            assert located.region == Region.locate(point)
            assert located.region.name == Region.objects.get(code=code).name
            first_step = prefetched.first_step_at(located.point)
            assert first_step is not None
            found = nearby.nearest_resources(
                user, located.point, ResourceType.values, k, first_step
            )
            assert_same(found, brute_nearest(visible, point, k))
            assert prefetched.first_step_at(inside(XIXIA if code == XINGQING else XINGQING)) is None


def test_a_county_sees_only_its_own_resources(users, scattered, candidates):
    user = users["xingqing"]
    mine = [r for r in scattered if r.region_id == XINGQING]
    for point in scatter(XINGQING, 5, seed=13):
        found = nearby.nearest_resources(user, point, ResourceType.values, 4)
        assert_same(found, brute_nearest(mine, point, 4))
        assert {r["region"] for rows in found.values() for r in rows} == {XINGQING}


def test_geodesic_order_wins_over_planar_degrees(users, db, candidates):
    """At 38.5°N a degree of longitude is 0.78 of a degree of latitude: the resource 0.010° east
    (872 m) is nearer than the one 0.0085° north (944 m), though KNN's planar `<->` says otherwise."""
    centre = inside(XINGQING)
    east = Point(centre.x + 0.010, centre.y, srid=4326)
    north = Point(centre.x, centre.y + 0.0085, srid=4326)
    assert metres(centre, east) < metres(centre, north)
    assert centre.distance(east) > centre.distance(north)
    made = EmergencyResource.objects.bulk_create(
        EmergencyResource(
            name=name, resource_type="fire_station", location=where, region_id=XINGQING
        )
        for name, where in [("东站", east), ("北站", north)]
    )
    [nearest] = nearby.nearest_resources(users["xingqing"], centre, ["fire_station"], 1)[
        "fire_station"
    ]
    assert nearest["id"] == made[0].pk
    assert abs(nearest["distance_m"] - metres(centre, east)) < ABOUT_A_MILLIMETRE


def test_nearest_resources_are_settled_in_one_statement_here(users, scattered):
    point = inside(XINGQING)
    with CaptureQueriesContext(connection) as captured:
        nearby.nearest_resources(users["city"], point, ResourceType.values, 3)
    assert len(captured) == 1


def test_nothing_visible_finds_nothing(db, scattered):
    from django.contrib.auth.models import AnonymousUser

    found = nearby.nearest_resources(AnonymousUser(), inside(XINGQING), ResourceType.values, 3)
    assert found == {t: [] for t in ResourceType.values}


# --- within radius ---------------------------------------------------------------------------


@pytest.fixture
def hazards(make_unit):
    """Boilers, pressure vessels, elevators, pipelines and filling stations around Yinchuan."""
    owner = {code: make_unit(code) for code in (XINGQING, XIXIA)}
    devices = []
    for code in (XINGQING, XIXIA):
        for i, point in enumerate(scatter(code, 45, seed=21 if code == XINGQING else 22)):
            variety = ("1100", "2150", "3110")[i % 3]
            devices.append(
                services.register_equipment(
                    acting_user=None,
                    variety_code=variety,
                    use_unit=owner[code],
                    location=point,
                    device_code=f"{variety}T1234{2020}{len(devices):05d}",
                    commissioned_on=dt.date(2020, 6, 1),
                )[0]
            )
        for j, start in enumerate(scatter(code, 6, seed=23 if code == XINGQING else 24)):
            route = MultiLineString(
                LineString((start.x, start.y), (start.x + 0.03, start.y + 0.01)), srid=4326
            )
            devices.append(
                services.register_equipment(
                    acting_user=None,
                    variety_code="8210",
                    use_unit=owner[code],
                    route=route,
                    device_code=f"8210T1234{2020}{len(devices) + j:05d}",
                )[0]
            )
    stations = [
        services.register_unit(
            acting_user=None, name=f"加气站{code}-{i}", roles=[UnitRole.FILLING], location=point
        )
        for code in (XINGQING, XIXIA)
        for i, point in enumerate(scatter(code, 8, seed=25 if code == XINGQING else 26))
    ]
    return devices, stations


def brute_within(user, point: Point, radii: dict[str, float]) -> list[tuple[str, int, float]]:
    """Every visible row's geodesic distance: PROJ for points, PostGIS geography for routes."""
    found = []
    devices = Equipment.objects.visible_to(user).filter(kind__in=list(radii))
    for device in devices.filter(location__isnull=False):
        d = metres(point, device.location)
        if d <= radii[device.kind]:
            found.append(("equipment", device.pk, d))
    routes = devices.filter(route__isnull=False).annotate(d=Distance("route", point, spheroid=True))
    geography = {
        pk: d
        for pk, d in Equipment.objects.filter(pk__in=routes.values("pk"))
        .extra(
            select={"d": "ST_Distance(route::geography, ST_GeomFromEWKT(%s)::geography)"},
            select_params=[point.ewkt],
        )
        .values_list("pk", "d")
    }
    for device in devices.filter(route__isnull=False):
        if geography[device.pk] <= radii[device.kind]:
            found.append(("equipment", device.pk, geography[device.pk]))
    if nearby.FILLING in radii:
        for unit in Unit.objects.visible_to(user).with_role(UnitRole.FILLING):
            d = metres(point, unit.location)
            if d <= radii[nearby.FILLING]:
                found.append(("unit", unit.pk, d))
    return sorted(found, key=lambda f: (f[2], f[0], f[1]))


def assert_same_hits(items: list[dict], expected: list[tuple[str, int, float]]):
    assert [(i["what"], i["id"]) for i in items] == [(w, pk) for w, pk, _ in expected]
    for item, (_, _, d) in zip(items, expected, strict=True):
        assert abs(item["distance_m"] - d) < ABOUT_A_MILLIMETRE


@pytest.mark.parametrize(
    "radii",
    [
        {"1000": 2500.0, "2000": 1500.0, "8000": 2000.0, "filling": 3000.0},
        {"1000": 4000.0, "3000": 4000.0},
        {"8000": 1200.0},
        {"filling": 6000.0},
    ],
)
def test_within_radius_equals_a_brute_force_geodesic_search(users, hazards, radii):
    for user in (users["city"], users["xingqing"]):
        for point in scatter(XINGQING, 4, seed=31) + scatter(XIXIA, 2, seed=32):
            items, total = nearby.within(user, point, radii, 10_000)
            expected = brute_within(user, point, radii)
            assert total == len(expected)
            assert_same_hits(items, expected)


def test_within_radius_lists_the_nearest_up_to_the_limit_and_counts_all(users, hazards):
    radii = {"2000": 20_000.0, "3000": 20_000.0}
    point = inside(XINGQING)
    items, total = nearby.within(users["city"], point, radii, 5)
    expected = brute_within(users["city"], point, radii)
    assert total == len(expected) > 5
    assert_same_hits(items, expected[:5])


def test_pipelines_count_when_their_route_crosses_the_circle(users, make_equipment):
    centre = inside(XINGQING)
    # A straight route passing 0.004° (about 440 m) north of the point, its ends far outside.
    route = MultiLineString(
        LineString((centre.x - 0.05, centre.y + 0.004), (centre.x + 0.05, centre.y + 0.004)),
        srid=4326,
    )
    pipeline = make_equipment(variety_code="8210", route=route)
    assert nearby.within(users["xingqing"], centre, {"8000": 400.0}, 10) == ([], 0)
    [hit], total = nearby.within(users["xingqing"], centre, {"8000": 500.0}, 10)
    assert (hit["id"], total) == (pipeline.pk, 1)
    assert 440 < hit["distance_m"] < 450
    assert abs(hit["lat"] - (centre.y + 0.004)) < 1e-9  # the route's point nearest the incident


# --- radii, speeds and limits from settings ---------------------------------------------------


def test_hazard_radii_come_from_settings(settings, users, hazards):
    located = at_coordinates(users["city"], f"{inside(XINGQING).x},{inside(XINGQING).y}")
    default = around.radii_for(None, None)
    assert (
        default
        == conf.hazard_radii()
        == {"1000": 300.0, "2000": 500.0, "8000": 300.0, "filling": 800.0}
    )
    settings.RESPONSE_HAZARD_RADII_M = {"2000": 30_000}
    assert around.radii_for(None, None) == {"2000": 30_000.0}
    found, items = around.hazards_around(users["city"], located, around.radii_for(None, None))
    assert found["total"] == len(brute_within(users["city"], located.point, {"2000": 30_000.0}))
    assert found["total"] > 10
    assert {i["kind"] for i in json.loads(items)} == {"2000"}


def test_a_kind_without_a_table_radius_needs_one(db):
    with pytest.raises(ResponseError) as caught:
        around.radii_for(["3000"], None)
    assert caught.value.findings[0].field == "radius"
    assert around.radii_for(["3000", "filling"], 100.0) == {"3000": 100.0, "filling": 100.0}


@pytest.mark.parametrize(
    ("code", "urban"), [(XINGQING, True), ("640121", False), ("640181", False)]
)
def test_arrival_estimates_use_the_urban_or_rural_speed(settings, users, code, urban):
    settings.RESPONSE_SPEED_KMH = {"urban": 18.0, "rural": 45.0}
    point = inside(code)
    EmergencyResource.objects.create(
        name="站", resource_type="fire_station", region_id=code,
        location=Point(point.x + 0.01, point.y, srid=4326),
    )  # fmt: skip
    located = at_coordinates(users["province"], f"{point.x},{point.y}")
    speed, found = around.resources_around(users["province"], located, k=1, types=["fire_station"])
    assert speed == (18.0 if urban else 45.0)
    [station] = found["fire_station"]
    assert station["eta_min"] == round(station["distance_m"] / (speed * 1000 / 60), 1)


@pytest.mark.parametrize(
    ("raw", "rule"),
    [("-5", "radius.range"), ("0", "radius.range"), ("50001", "radius.range"),
     ("1e400", "radius.range"), ("nan", "radius.range"), ("far", "radius.format")],
)  # fmt: skip
def test_bad_radii_are_refused(db, raw, rule):
    with pytest.raises(ResponseError) as caught:
        around.parse_radius(raw)
    assert (caught.value.findings[0].field, caught.value.findings[0].rule) == ("radius", rule)


def test_the_radius_limit_comes_from_settings(settings, db):
    settings.RESPONSE_MAX_RADIUS_M = 100_000
    assert around.parse_radius("80000") == 80_000.0


def test_the_city_sees_both_districts(users, scattered):
    """Positive control for the scoping tests: the same search as the city reaches into 西夏区."""
    point = scatter(XINGQING, 1, seed=41)[0]
    found = nearby.nearest_resources(users["city"], point, ResourceType.values, 20)
    regions = {r["region"] for rows in found.values() for r in rows}
    assert regions == {XINGQING, XIXIA}
    assert users["city"].agency.region_id == YINCHUAN
