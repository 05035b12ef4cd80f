"""Bbox-limited GeoJSON of the small layers under /api/geojson/ (maps.geojson and its view) and
the map endpoints in the OpenAPI schema (maps.openapi).

Expected features come from the ORM and plain Python (the box rule written out here), never from
the SQL under test; counts are checked against the tiles' `count` endpoint for the same query.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from accounts.models import User
from layers import sources
from layers.filters import parse_query
from layers.sources import Sql
from maps import geojson
from registry.models import Accident, EmergencyResource, Equipment, Unit, UnitRole
from tests.common.legacy import drop_empty_geometry_checks
from tests.conftest import XINGQING, XIXIA, inside
from tests.maps import test_tiles
from tests.maps.test_tiles import (
    TABLES,
    _gist_indexes,
    _plan,
    accident,
    api_count,
    jittered,
    resource,
)

pytestmark = pytest.mark.django_db

# The licence layers (issue 23) need licences, which the tile tests' world below does not hold:
# their features are tested through OGC in tests/licensing/test_licensing_pages.py, their scope by
# the leak walk (its LAYER_MODELS), for GeoJSON as for every layer.
LICENSING = ("licences", "unlicensed")
LAYERS = [layer for layer in geojson.GEOJSON_LAYERS if layer not in LICENSING]
MODELS = {"units": Unit, "accidents": Accident, "resources": EmergencyResource}
PAGES = {
    "units": "units",
    "accidents": "accidents",
    "resources": "resources",
    "overdue": "equipment",
}

# The tile tests' fixtures: rows placed straight through the ORM (place), the same things in two
# counties (world), a few thousand analysed rows for query plans (spread).
place, world, spread = test_tiles.place, test_tiles.world, test_tiles.spread


# --------------------------------------------------------------------------- helpers


def url(layer: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/geojson/{layer}" + (f"?{query}" if query else "")


def collection(client, layer: str, **params) -> list[dict]:
    response = client.get(url(layer, **params))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection" and "crs" not in body
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["id"] == feature["properties"]["id"]
    ids = [f["id"] for f in body["features"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    return body["features"]


def box_text(box) -> str:
    return ",".join(repr(v) for v in box)


def in_box(point: Point | None, box) -> bool:
    """The documented rule: west and north edges in, east and south out."""
    if point is None or point.empty:
        return False
    west, south, east, north = box
    return west <= point.x < east and south < point.y <= north


def around(points, pad: float = 0.05) -> tuple[float, float, float, float]:
    xs, ys = [p.x for p in points], [p.y for p in points]
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def visible(layer: str, user) -> list:
    """The layer's rows for the user, straight from the ORM."""
    if layer == "overdue":
        return list(Equipment.objects.visible_to(user).overdue(on=timezone.localdate()))
    return list(MODELS[layer].objects.visible_to(user))


def expected_properties(layer: str, row) -> dict:
    """What a feature should carry, written from the model instance."""
    page = f"/{PAGES[layer]}/{row.pk}/"
    if layer == "units":
        return {"id": row.pk, "name": row.name, "roles": ",".join(row.roles), "url": page}
    if layer == "resources":
        return {"id": row.pk, "name": row.name, "type": row.resource_type, "url": page}
    if layer == "accidents":
        return {
            "id": row.pk,
            "severity": row.severity,
            "deaths": row.deaths,
            "occurred_at": row.occurred_at,
            "url": page,
        }
    due = row.next_inspection_due
    return {
        "id": row.pk,
        "kind": row.kind,
        "variety": row.variety_id,
        "status": row.status,
        "code": row.device_code,
        "days_overdue": (timezone.localdate() - due).days if due else None,
        "url": page,
    }


def near(a: float, b: float) -> bool:
    return abs(a - b) <= 0.5e-7 + 1e-12  # COORDINATE_DIGITS = 7


def put(layer: str, point: Point | None, code: str = XINGQING, *, place=None, make_unit=None):
    """One row of the layer at the point, scoped to the region `code`."""
    if layer == "units":
        unit = make_unit(code)
        Unit.objects.filter(pk=unit.pk).update(location=point)
        return unit.pk
    if layer == "accidents":
        return accident(code, point).pk
    if layer == "resources":
        return resource(code, point).pk
    return place(code, point, next_inspection_due=timezone.localdate() - dt.timedelta(days=5)).pk


# --------------------------------------------------------------------------- access


def test_anonymous_gets_403_json(client):
    response = client.get(url("units", bbox="106,38,107,39"))
    assert response.status_code == 403
    assert "user" in response.json()["errors"]


def test_user_without_jurisdiction_gets_403(client):
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests"))
    response = client.get(url("units", bbox="106,38,107,39"))
    assert response.status_code == 403
    assert "user" in response.json()["errors"]


def test_post_is_not_allowed(client, users):
    client.force_login(users["national"])
    assert client.post(url("units", bbox="106,38,107,39")).status_code == 405


# --------------------------------------------------------------------------- features


@pytest.mark.parametrize("layer", LAYERS)
def test_features_are_the_orm_rows_with_their_properties(client, users, world, layer):
    user = users["city"]
    everything = [p for side in world[layer].values() for p in side.values() if p is not None]
    box = around(everything)
    rows = [row for row in visible(layer, user) if in_box(row.location, box)]
    assert len(rows) == len(world[layer]["mine"]) + len(world[layer]["theirs"])
    client.force_login(user)
    found = collection(client, layer, bbox=box_text(box))
    assert [f["id"] for f in found] == sorted(row.pk for row in rows)
    by_id = {row.pk: row for row in rows}
    for feature in found:
        row = by_id[feature["id"]]
        expected = expected_properties(layer, row)
        properties = dict(feature["properties"])
        if layer == "accidents":
            properties["occurred_at"] = dt.datetime.fromisoformat(properties["occurred_at"])
        assert properties == expected
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]  # RFC 7946: longitude first
        assert near(lon, row.location.x) and near(lat, row.location.y)


def test_days_overdue_and_a_missing_code_are_null_not_absent(client, users, place):
    point = inside(XINGQING)
    today = timezone.localdate()
    late = place(XINGQING, point, next_inspection_due=today - dt.timedelta(days=40))
    failed = place(XINGQING, point, next_inspection_due=None)
    Equipment.objects.filter(pk=failed.pk).update(device_code=None)
    place(XINGQING, point)  # not due yet
    client.force_login(users["xingqing"])
    box = around([point], 0.01)
    found = {f["id"]: f["properties"] for f in collection(client, "overdue", bbox=box_text(box))}
    assert set(found) == {late.pk, failed.pk}
    assert found[late.pk]["days_overdue"] == 40
    assert found[failed.pk]["days_overdue"] is None
    assert found[failed.pk]["code"] is None


def test_an_empty_box_is_an_empty_collection(client, users, world):
    client.force_login(users["national"])
    response = client.get(url("units", bbox="0,0,1,1"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize("layer", LAYERS)
def test_box_edges_follow_the_count_endpoint(client, users, place, make_unit, layer):
    """West and north edges in, east and south out: the same rows as /tiles/<layer>/count."""
    centre = inside(XINGQING)
    west, south = round(centre.x, 2) - 0.01, round(centre.y, 2) - 0.01
    east, north = west + 0.02, south + 0.02
    mid_x, mid_y = west + 0.0123, south + 0.0077
    points = [
        Point(x, y, srid=4326)
        for x, y in [
            (west, mid_y),
            (east, mid_y),
            (mid_x, north),
            (mid_x, south),
            (west, north),
            (east, south),
            (west, south),
            (east, north),
            (mid_x, mid_y),
            (west - 1e-9, mid_y),
            (mid_x, north + 1e-9),
        ]
    ]
    ids = {put(layer, p, place=place, make_unit=make_unit): p for p in points}
    box = (west, south, east, north)
    expected = {pk for pk, p in ids.items() if in_box(p, box)}
    assert len(expected) == 4  # (west, mid), (mid, north), (west, north), (mid, mid)
    client.force_login(users["xingqing"])
    found = {f["id"] for f in collection(client, layer, bbox=box_text(box))}
    assert found & set(ids) == expected
    assert len(found) == api_count(client, layer, bbox=box_text(box))


def test_adjacent_boxes_share_no_row_and_lose_none(client, users):
    centre = inside(XINGQING)
    points = jittered(XINGQING, 40, spread=0.004)
    for p in points:
        put("resources", p)
    client.force_login(users["xingqing"])
    west, south, east, north = around(points, 0.001)
    mid_x, mid_y = centre.x, centre.y
    quarters = [
        (west, south, mid_x, mid_y),
        (mid_x, south, east, mid_y),
        (west, mid_y, mid_x, north),
        (mid_x, mid_y, east, north),
    ]
    seen = [{f["id"] for f in collection(client, "resources", bbox=box_text(q))} for q in quarters]
    assert sum(len(s) for s in seen) == len(set().union(*seen)) == len(points)


def test_pipelines_are_their_routes_placed_by_their_midpoint(client, users, place):
    centre = inside(XINGQING)
    route = MultiLineString(
        LineString((centre.x - 0.002, centre.y), (centre.x + 0.002, centre.y + 0.001)), srid=4326
    )
    due = timezone.localdate() - dt.timedelta(days=3)
    pipe = place(XINGQING, None, variety="8210", route=route, next_inspection_due=due)
    client.force_login(users["xingqing"])
    # The box holds the route's midpoint but neither end; a box beside it holds an end only.
    holds_middle = (centre.x - 0.0005, centre.y, centre.x + 0.0005, centre.y + 0.001)
    [feature] = collection(client, "overdue", bbox=box_text(holds_middle))
    assert feature["id"] == pipe.pk
    assert feature["geometry"]["type"] == "MultiLineString"
    [[start, end]] = feature["geometry"]["coordinates"]
    assert all(near(a, b) for a, b in zip(start + end, route[0][0] + route[0][1], strict=True))
    beside = (centre.x + 0.0015, centre.y, centre.x + 0.0025, centre.y + 0.002)
    assert collection(client, "overdue", bbox=box_text(beside)) == []
    for box in (holds_middle, beside):
        assert api_count(client, "overdue", bbox=box_text(box)) == (1 if box is holds_middle else 0)


def test_rows_without_geometry_never_break_it(client, users, place, make_unit):
    drop_empty_geometry_checks()  # empty geometries are legacy rows now: the registry refuses them
    centre = inside(XINGQING)
    due = timezone.localdate() - dt.timedelta(days=3)
    located = place(XINGQING, centre, next_inspection_due=due)
    place(XINGQING, None, next_inspection_due=due)  # a device not yet located
    place(XINGQING, None, variety="8210", next_inspection_due=due)  # a pipeline without a route
    place(XINGQING, None, variety="8210", route=MultiLineString(srid=4326), next_inspection_due=due)
    nowhere = make_unit(XINGQING)
    Unit.objects.filter(pk=nowhere.pk).update(location=None)
    accident(XINGQING, None)
    accident(XINGQING, Point(srid=4326))  # an empty point
    resource(XINGQING, Point(srid=4326))
    client.force_login(users["xingqing"])
    box = box_text(around([centre], 1.0))
    assert [f["id"] for f in collection(client, "overdue", bbox=box)] == [located.pk]
    assert collection(client, "accidents", bbox=box) == []
    assert collection(client, "resources", bbox=box) == []
    assert nowhere.pk not in {f["id"] for f in collection(client, "units", bbox=box)}
    assert all(
        f["geometry"] is not None for f in collection(client, "units", bbox="-180,-90,180,90")
    )


# --------------------------------------------------------------------------- filters


@pytest.fixture
def mixed(place, make_unit):
    """One county, one spot: units of several roles, resources of several types, accidents of
    several ages and equipment kinds, overdue devices of several varieties."""
    today = timezone.localdate()
    points = iter(jittered(XINGQING, 40, spread=0.003))
    for roles in [(UnitRole.USE,), (UnitRole.MAINTENANCE, UnitRole.RESCUE), (UnitRole.INSPECTION,)]:
        unit = make_unit(XINGQING, roles=roles)
        Unit.objects.filter(pk=unit.pk).update(location=next(points))
    for kind in ["hospital", "fire_station", "rescue_team", "hospital"]:
        resource(XINGQING, next(points), kind)
    lift = place(XINGQING, next(points), variety="3110")
    crane = place(XINGQING, next(points), variety="4310")
    for days, device in [(0.5, lift), (3, crane), (20, None), (200, lift), (800, None)]:
        accident(XINGQING, next(points), days_ago=days, equipment=device)
    for variety, late, year in [
        ("3110", 10, 2019),
        ("3120", 100, 2020),
        ("4310", 400, 2021),
        ("2150", 30, 2022),
    ]:
        place(
            XINGQING,
            next(points),
            variety=variety,
            next_inspection_due=today - dt.timedelta(late),
            commissioned_on=dt.date(year, 1, 1),
        )
    return around(list(jittered(XINGQING, 40, spread=0.003)), 0.001)


def _since(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.mark.parametrize(
    "layer, params, lookup",
    [
        ("units", {"role": "maintenance"}, {"roles__contains": ["maintenance"]}),
        ("units", {"role": "rescue,inspection"}, {"roles__overlap": ["rescue", "inspection"]}),
        ("resources", {"type": "hospital"}, {"resource_type": "hospital"}),
        ("resources", {"type": "fire_station,rescue_team"},
         {"resource_type__in": ["fire_station", "rescue_team"]}),
        ("accidents", {"kind": "3000"}, {"equipment__kind": "3000"}),
        ("accidents", {"window": "30d"}, {"occurred_at__gte": 30}),
        ("accidents", {"window": "1y"}, {"occurred_at__gte": 365}),
        ("overdue", {"kind": "3000"}, {"kind": "3000"}),
        ("overdue", {"variety": "3100"}, {"variety__code__startswith": "31"}),
        ("overdue", {"from": "2020-06-01"}, {"commissioned_on__gte": dt.date(2020, 6, 1)}),
        ("units", {"region": XIXIA}, {"region_id": XIXIA}),
        ("overdue", {"region": "64"}, {}),  # a wider prefix never widens the county's view
    ],
)  # fmt: skip
def test_filters_change_results_as_the_database_says(client, users, mixed, layer, params, lookup):
    if "occurred_at__gte" in lookup:
        lookup = {"occurred_at__gte": _since(lookup["occurred_at__gte"])}
    user = users["xingqing"]
    rows = [row for row in visible(layer, user) if in_box(row.location, mixed)]
    allowed = {row.pk for row in (MODELS.get(layer) or Equipment).objects.filter(**lookup)}
    expected = sorted(row.pk for row in rows if row.pk in allowed)
    if params != {"region": "64"}:
        assert len(expected) < len(rows), "the filter should leave some rows out"
    client.force_login(user)
    found = collection(client, layer, bbox=box_text(mixed), **params)
    assert [f["id"] for f in found] == expected
    assert len(found) == api_count(client, layer, bbox=box_text(mixed), **params)


def test_empty_values_mean_not_given(client, users, mixed):
    user = users["xingqing"]
    expected = [row for row in visible("units", user) if in_box(row.location, mixed)]
    client.force_login(user)
    assert len(collection(client, "units", bbox=box_text(mixed), role="", region="")) == len(
        expected
    )


# --------------------------------------------------------------------------- jurisdiction


@pytest.mark.parametrize("layer", LAYERS)
def test_county_never_sees_another_county(client, users, world, layer):
    mine, theirs = world[layer]["mine"], world[layer]["theirs"]
    box = box_text(around([p for p in [*mine.values(), *theirs.values()] if p is not None]))
    client.force_login(users["xingqing"])
    assert {f["id"] for f in collection(client, layer, bbox=box)} == set(mine)
    assert collection(client, layer, bbox=box, region=XIXIA) == []
    assert {f["id"] for f in collection(client, layer, bbox=box, region="64")} == set(mine)
    assert collection(client, layer, bbox="-180,-90,180,90") != []
    assert not {f["id"] for f in collection(client, layer, bbox="-180,-90,180,90")} & set(theirs)
    client.force_login(users["city"])
    assert {f["id"] for f in collection(client, layer, bbox=box)} == set(mine) | set(theirs)
    assert {f["id"] for f in collection(client, layer, bbox=box, region=XIXIA)} == set(theirs)


# --------------------------------------------------------------------------- the cap


def test_a_box_with_more_than_the_cap_is_refused_naming_bbox(client, users, monkeypatch):
    points = jittered(XINGQING, 4, spread=0.001)
    for p in points[:3]:
        resource(XINGQING, p, "hospital")
    resource(XINGQING, points[3], "fire_station")
    monkeypatch.setattr(geojson, "MAX_FEATURES", 3)
    client.force_login(users["xingqing"])
    box = box_text(around(points, 0.0001))
    response = client.get(url("resources", bbox=box))
    assert response.status_code == 400
    assert "3" in response.json()["errors"]["bbox"][0]["message"]
    assert len(collection(client, "resources", bbox=box, type="hospital")) == 3  # at the cap: all


def test_the_statement_reads_at_most_one_row_past_the_cap(users):
    query = parse_query("units", QueryDict("bbox=-180,-90,180,90"), allow_bbox=True)
    statement = geojson.collection_sql("units", users["national"], query, timezone.localdate())
    assert statement.text.rstrip().endswith("LIMIT %s\n) AS f")
    assert statement.params[-1] == geojson.MAX_FEATURES + 1


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path, param",
    [
        (url("units"), "bbox"),
        (url("units", bbox=""), "bbox"),
        (url("units", bbox="1,2,3"), "bbox"),
        (url("units", bbox="a,b,c,d"), "bbox"),
        (url("units", bbox="nan,0,1,1"), "bbox"),
        (url("units", bbox="inf,0,1,1"), "bbox"),
        (url("units", bbox="10,0,5,1"), "bbox"),  # inverted
        (url("units", bbox="0,10,1,5"), "bbox"),
        (url("units", bbox="0,0,0,1"), "bbox"),  # empty
        (url("units", bbox="-200,0,200,1"), "bbox"),
        (url("units", bbox="0,-100,1,100"), "bbox"),
        (url("units", bbox="1" * 3000), "bbox"),
        (url("units", bbox="0,0,1,1") + "&bbox=0,0,2,2", "bbox"),
        (url("nosuchlayer", bbox="0,0,1,1"), "layer"),
        (url("equipment", bbox="0,0,1,1"), "layer"),
        (url("units", bbox="0,0,1,1", colour="red"), "colour"),
        (url("units", bbox="0,0,1,1", kind="3000"), "kind"),  # not a filter of the units layer
        (url("overdue", bbox="0,0,1,1", status="in_use"), "status"),
        (url("overdue", bbox="0,0,1,1", kind="3100"), "kind"),
        (url("overdue", bbox="0,0,1,1", variety="9999"), "variety"),
        (url("units", bbox="0,0,1,1", role="owner"), "role"),
        (url("resources", bbox="0,0,1,1", type="tank"), "type"),
        (url("resources", bbox="0,0,1,1", region="6401040"), "region"),
        (url("accidents", bbox="0,0,1,1", **{"from": "2024-13-01"}), "from"),
        (url("accidents", bbox="0,0,1,1", to="yesterday"), "to"),
        (url("accidents", bbox="0,0,1,1", window="2w"), "window"),
        (url("accidents", bbox="0,0,1,1", window="24h", to="2024-01-01"), "window"),
        (url("accidents", region="64ab"), "region"),  # and bbox: every problem at once
        (url("accidents", region="64ab"), "bbox"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, users, path, param):
    client.force_login(users["national"])
    response = client.get(path)
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"], response.json()


def test_equipment_points_at_the_tiles(client, users):
    client.force_login(users["national"])
    message = client.get(url("equipment", bbox="0,0,1,1")).json()["errors"]["layer"][0]["message"]
    assert "/tiles/equipment/" in message


# --------------------------------------------------------------------------- queries and plans


def test_a_request_runs_a_bounded_number_of_queries(
    client, users, place, django_assert_max_num_queries
):
    points = jittered(XINGQING, 30, spread=0.003)
    for p in points:
        put("resources", p)
        put("overdue", p, place=place)
    client.force_login(users["xingqing"])
    box = box_text(around(points))
    # session, user, agency; the collection (its SET LOCALs in the same round trip): the same
    # for 30 rows as for one.
    for layer, params in [("resources", {"type": "rescue_team"}), ("overdue", {"kind": "3000"})]:
        with django_assert_max_num_queries(4):
            response = client.get(url(layer, bbox=box, **params))
        assert response.status_code == 200
        assert len(json.loads(response.content)["features"]) == 30


def test_the_bbox_query_uses_the_gist_index(users, spread):
    user, centre = users["city"], inside(XINGQING)
    bbox = f"{centre.x - 0.01},{centre.y - 0.01},{centre.x + 0.01},{centre.y + 0.01}"
    for layer in LAYERS:
        table = TABLES[layer]
        indexes = _gist_indexes(table)
        query = parse_query(layer, QueryDict(f"bbox={bbox}"), allow_bbox=True)
        plan = _plan(geojson.collection_sql(layer, user, query, timezone.localdate()))
        assert any(index in plan for index in indexes), (layer, plan)
        assert f"Seq Scan on {table}" not in plan, (layer, plan)


def test_the_statement_runs_without_jit_or_parallel_workers():
    statement = Sql(
        "SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather'), %s",
        (1,),
    )
    assert sources.execute(statement, parallel=False) == ("off", "0", 1)
    assert sources.execute(statement)[0] == "off"


def test_sql_carries_no_user_input_in_its_text(users):
    """Filter values and the box travel as parameters: the text is the same whatever they are."""
    user, today = users["national"], timezone.localdate()
    a = parse_query("accidents", QueryDict("kind=3000&region=64&bbox=1,2,3,4"), allow_bbox=True)
    b = parse_query("accidents", QueryDict("kind=4000&region=11&bbox=5,6,7,8"), allow_bbox=True)
    assert geojson.collection_sql("accidents", user, a, today).text == (
        geojson.collection_sql("accidents", user, b, today).text
    )


# --------------------------------------------------------------------------- OpenAPI


FILTERS = {
    "overdue": {"kind", "variety", "region", "from", "to"},
    "units": {"region", "role"},
    "accidents": {"kind", "region", "from", "to", "window"},
    "resources": {"region", "type"},
    "equipment": {"kind", "variety", "status", "region", "from", "to"},
}


@pytest.fixture
def schema(client, users) -> dict:
    client.force_login(users["xingqing"])
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def _parameters(operation: dict) -> dict[str, dict]:
    return {p["name"]: p for p in operation["parameters"]}


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)


def test_geojson_endpoints_are_in_the_schema(schema):
    for layer in LAYERS:
        operation = schema["paths"][f"/api/geojson/{layer}"]["get"]
        parameters = _parameters(operation)
        assert set(parameters) == FILTERS[layer] | {"bbox"}, layer
        assert parameters["bbox"]["required"] is True
        assert not any(p["required"] for name, p in parameters.items() if name != "bbox")
        assert set(operation["responses"]) == {"200", "400", "403"}
        assert "application/geo+json" in operation["responses"]["200"]["content"]
    assert "/api/geojson/equipment" not in schema["paths"]


def test_tile_endpoints_are_in_the_schema(schema):
    assert set(schema["paths"]["/tiles/layers.json"]["get"]["responses"]) == {"200", "400", "403"}
    for layer, filters in FILTERS.items():
        count = schema["paths"][f"/tiles/{layer}/count"]["get"]
        assert set(_parameters(count)) == filters | {"bbox"}, layer
        assert _parameters(count)["bbox"]["required"] is False
        tile = schema["paths"][f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"]["get"]
        assert set(_parameters(tile)) == filters | {"z", "x", "y"}, layer
        assert tile["responses"]["200"]["content"] == {
            "application/vnd.mapbox-vector-tile": {"schema": {"type": "string", "format": "binary"}}
        }
        for operation in (count, tile):
            assert set(operation["responses"]) == {"200", "400", "401", "403"}


def test_filter_parameters_carry_their_descriptions_and_choices(schema):
    parameters = _parameters(schema["paths"]["/api/geojson/units"]["get"])
    assert "单位角色" in parameters["role"]["description"]
    assert parameters["role"]["schema"]["items"]["enum"] == [role.value for role in UnitRole]
    assert (parameters["role"]["style"], parameters["role"]["explode"]) == ("form", False)
    accidents = _parameters(schema["paths"]["/api/geojson/accidents"]["get"])
    assert accidents["window"]["schema"]["enum"] == ["24h", "30d", "1y"]
    assert accidents["from"]["schema"] == {"type": "string", "format": "date"}


def test_html_pages_are_not_in_the_api_schema(schema):
    assert not any(path.startswith(("/units/", "/equipment/")) for path in schema["paths"])


def test_docs_page_is_served_offline(client, users):
    client.force_login(users["xingqing"])
    page = client.get("/api/docs/").content.decode()
    assert "https://" not in page and "http://" not in page.replace("http://testserver", "")
