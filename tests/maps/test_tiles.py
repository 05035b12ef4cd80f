"""Vector tiles, counts and the layer catalogue under /tiles/ (maps.tiles, maps.api).

Expected numbers come from the ORM or from plain tile arithmetic written here (the slippy-map
formulas), never from the SQL under test. Tiles are decoded with `mapbox-vector-tile`; the tests
that need it skip with the reason when it is not installed.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.db import connection
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from accounts import map_pass
from accounts.models import User
from layers import catalogue
from layers.filters import parse_query
from maps import counts, tiles
from registry import catalogue as codes
from registry.models import Accident, EmergencyResource, Equipment, Unit, UnitRole
from tests.common.legacy import drop_empty_geometry_checks
from tests.conftest import XINGQING, XIXIA, YINCHUAN, inside

pytestmark = pytest.mark.django_db

LAYERS = ["equipment", "overdue", "units", "accidents", "resources"]


def today() -> dt.date:
    """The day the server counts in (Asia/Shanghai), read when asked: a run that passes local
    midnight (16:00 UTC) would otherwise set devices up against yesterday."""
    return timezone.localdate()


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def decode():
    mvt = pytest.importorskip(
        "mapbox_vector_tile", reason="decoding tiles needs `pip install mapbox-vector-tile`"
    )

    def decode(body: bytes) -> dict:
        return mvt.decode(body) if body else {}

    return decode


@pytest.fixture(autouse=True)
def empty_tile_cache():
    # Every test builds its own rows; a tile cached by an earlier test would be stale here.
    tiles.CACHE.clear()
    yield
    tiles.CACHE.clear()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = math.floor((lon + 180) / 360 * n)
    y = math.floor((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """west, south, east, north in degrees."""
    n = 1 << z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def url(layer, z, x, y, **params) -> str:
    path = reverse("tiles:tile", kwargs={"layer": layer, "z": z, "x": x, "y": y})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def count_url(layer, **params) -> str:
    path = reverse("tiles:count", kwargs={"layer": layer})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def features(client, decode, layer, z, x, y, **params) -> list[dict]:
    response = client.get(url(layer, z, x, y, **params))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    decoded = decode(response.content)
    assert set(decoded) <= {layer}
    if layer in decoded:
        assert decoded[layer]["extent"] == 4096
    return decoded.get(layer, {}).get("features", [])


def clustered(client, decode, layer, z, x, y, **params) -> int:
    found = features(client, decode, layer, z, x, y, **params)
    assert all(f["properties"]["cluster"] == 1 for f in found)
    assert all(f["geometry"]["type"] == "Point" for f in found)
    return sum(f["properties"]["count"] for f in found)


def api_count(client, layer, **params) -> int:
    response = client.get(count_url(layer, **params))
    assert response.status_code == 200, response.content
    return response.json()["count"]


def covering(points, z, around: int = 0) -> set[tuple[int, int]]:
    """The tiles holding the points, and `around` rings of neighbours (for points on edges)."""
    steps = range(-around, around + 1)
    return {
        (x + dx, y + dy)
        for x, y in (tile_of(p.x, p.y, z) for p in points)
        for dx in steps
        for dy in steps
    }


def jittered(code: str, n: int, spread: float = 0.01) -> list[Point]:
    """n distinct points near a point certainly inside the region (region_id is what scopes)."""
    centre = inside(code)
    return [
        Point(
            centre.x + spread * math.cos(k * 2.4), centre.y + spread * math.sin(k * 2.4), srid=4326
        )
        for k in range(1, n + 1)
    ]


@pytest.fixture
def place(make_unit):
    """Equipment straight through the ORM at any point, scoped by the region it is given."""
    units: dict[str, Unit] = {}
    serial = iter(range(1, 100_000))

    def place(code: str, point: Point | None, variety: str = "3110", **fields) -> Equipment:
        if code not in units:
            units[code] = make_unit(code)
        fields.setdefault("status", "in_use")
        fields.setdefault("next_inspection_due", today() + dt.timedelta(days=100))
        fields.setdefault("commissioned_on", dt.date(2020, 6, 1))
        kind = codes.kind_of(variety)
        return Equipment.objects.create(
            device_code=f"{variety}T4321{2021}{next(serial):05d}",
            variety_id=variety,
            kind=kind,
            location=None if kind == "8000" else point,
            route=fields.pop("route", None),
            region_id=code,
            use_unit=units[code],
            **fields,
        )

    return place


def accident(code: str, point: Point | None, *, days_ago: float = 10, **fields) -> Accident:
    fields.setdefault("kind", "困人")
    return Accident.objects.create(
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        location=point,
        region_id=code,
        **fields,
    )


def resource(code: str, point: Point, resource_type: str = "rescue_team") -> EmergencyResource:
    return EmergencyResource.objects.create(
        name=f"{code}救援站", resource_type=resource_type, location=point, region_id=code
    )


@pytest.fixture
def world(place, make_unit):
    """The same things in 兴庆区 (mine) and 西夏区 (theirs): devices, overdue devices, units,
    accidents, resources; returns {layer: {"mine": [...], "theirs": [...]}} of their points by id."""
    out = {layer: {"mine": {}, "theirs": {}} for layer in LAYERS}
    for side, code in (("mine", XINGQING), ("theirs", XIXIA)):
        points = jittered(code, 12)
        for p in points[:6]:
            e = place(code, p)
            out["equipment"][side][e.pk] = p
        for p in points[6:9]:
            e = place(code, p, next_inspection_due=today() - dt.timedelta(days=40))
            out["equipment"][side][e.pk] = out["overdue"][side][e.pk] = p
        for p in points[9:10]:
            e = place(code, p, next_inspection_due=None)
            out["equipment"][side][e.pk] = out["overdue"][side][e.pk] = p
        for p in points[10:12]:
            u = make_unit(code, roles=(UnitRole.MAINTENANCE,))
            Unit.objects.filter(pk=u.pk).update(location=p)
            out["units"][side][u.pk] = p
            out["accidents"][side][accident(code, p, deaths=1).pk] = p
            out["resources"][side][resource(code, p).pk] = p
        # make_unit places units too (the use units of the devices): count them as they are.
        for u in Unit.objects.filter(region_id=code).exclude(pk__in=out["units"][side]):
            out["units"][side][u.pk] = u.location
    return out


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path",
    [url("equipment", 0, 0, 0), count_url("equipment"), "/tiles/layers.json"],
)
def test_anonymous_gets_403_json(client, path):
    response = client.get(path)
    assert response.status_code == 403
    assert "user" in response.json()["errors"]


def test_user_without_jurisdiction_gets_403(client):
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests"))
    assert client.get(url("equipment", 0, 0, 0)).status_code == 403


def test_post_is_not_allowed(client, users):
    client.force_login(users["national"])
    assert client.post(url("equipment", 0, 0, 0)).status_code == 405


# --------------------------------------------------------------------------- catalogue


def test_layers_json_describes_every_layer(client, users):
    client.force_login(users["xingqing"])
    body = client.get("/tiles/layers.json").json()
    assert body["cluster_below_zoom"] == tiles.CLUSTER_BELOW_ZOOM == 12
    assert (body["extent"], body["buffer"]) == (4096, 64)
    by_name = {layer["name"]: layer for layer in body["layers"]}
    # The filling stations (issue 21) are tested with their own data in tests/cylinders.
    assert list(by_name) == [*LAYERS, "stations", "licences", "unlicensed", "unlicensed_filling"]
    assert by_name["equipment"]["title"] == {"zh": "特种设备", "en": "Equipment"}
    assert by_name["equipment"]["geometry"] == ["point", "line"]
    assert by_name["equipment"]["tiles"] == "/tiles/equipment/{z}/{x}/{y}.pbf"
    assert by_name["accidents"]["count"] == "/tiles/accidents/count"
    filters = {name: {f["name"] for f in layer["filters"]} for name, layer in by_name.items()}
    assert filters == {
        "equipment": {"kind", "variety", "status", "region", "from", "to"},
        "overdue": {"kind", "variety", "region", "from", "to"},
        "units": {"region", "role"},
        "accidents": {"kind", "region", "from", "to", "window"},
        "resources": {"region", "type"},
        "stations": {"region"},
        "licences": {"region", "licence_kind"},  # issue 23, tested in tests/licensing
        "unlicensed": {"kind", "variety", "region"},
        "unlicensed_filling": {"region"},
    }
    legend = by_name["equipment"]["legend"]
    assert [item["value"] for item in legend["items"]] == [f"{k}000" for k in range(1, 10)]
    assert {item["value"]: item["colour"] for item in legend["items"]} == catalogue.KIND_COLOURS
    assert len(set(catalogue.KIND_COLOURS.values())) == 9
    assert "电梯" in next(i["label"] for i in legend["items"] if i["value"] == "3000")
    for layer in by_name.values():
        assert layer["legend"]["items"], layer["name"]


# --------------------------------------------------------------------------- tiles


def test_detail_tile_carries_the_contract_properties(client, users, decode, place):
    device = place(XINGQING, inside(XINGQING), variety="4310")
    client.force_login(users["xingqing"])
    x, y = tile_of(device.location.x, device.location.y, 15)
    [feature] = features(client, decode, "equipment", 15, x, y)
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"] == {
        "id": device.pk,
        "kind": "4000",
        "variety": "4310",
        "status": "in_use",
        "code": device.device_code,
    }


def test_detail_point_lands_where_the_point_is(client, users, decode, place):
    """The drawn position, in tile pixels, matches the slippy-map formula to the pixel."""
    point = inside(XINGQING)
    place(XINGQING, point)
    client.force_login(users["xingqing"])
    z = 16
    n = 1 << z
    fx = (point.x + 180) / 360 * n
    fy = (1 - math.asinh(math.tan(math.radians(point.y))) / math.pi) / 2 * n
    [feature] = features(client, decode, "equipment", z, int(fx), int(fy))
    px, py = feature["geometry"]["coordinates"]
    # mapbox-vector-tile flips y by default: y grows northward from the tile's bottom edge.
    assert abs(px - (fx % 1) * 4096) <= 1
    assert abs(py - (1 - fy % 1) * 4096) <= 1


def test_empty_tile_is_200_with_an_empty_body(client, users):
    client.force_login(users["national"])
    response = client.get(url("equipment", 3, 0, 0))
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"


def test_overdue_layer_has_days_overdue(client, users, decode, place):
    point = inside(XINGQING)
    late = place(XINGQING, point, next_inspection_due=today() - dt.timedelta(days=40))
    failed = place(XINGQING, point, next_inspection_due=None)
    place(XINGQING, point)  # not due yet
    place(XINGQING, point, status="suspended", next_inspection_due=today() - dt.timedelta(days=9))
    client.force_login(users["xingqing"])
    x, y = tile_of(point.x, point.y, 14)
    found = {
        f["properties"]["id"]: f["properties"]
        for f in features(client, decode, "overdue", 14, x, y)
    }
    assert set(found) == {late.pk, failed.pk}
    assert found[late.pk]["days_overdue"] == 40
    assert "days_overdue" not in found[failed.pk]  # null: MVT leaves the property out
    expected = Equipment.objects.visible_to(users["xingqing"]).overdue(on=today()).count()
    assert api_count(client, "overdue") == expected == 2


def test_unit_accident_resource_properties(client, users, decode, make_unit):
    point = inside(XINGQING)
    unit = make_unit(XINGQING, roles=(UnitRole.USE, UnitRole.MAINTENANCE))
    crash = accident(XINGQING, unit.location, severity="large", deaths=3)
    station = resource(XINGQING, unit.location, "fire_station")
    client.force_login(users["xingqing"])
    x, y = tile_of(point.x, point.y, 14)
    [u] = features(client, decode, "units", 14, x, y)
    assert u["properties"] == {"id": unit.pk, "name": unit.name, "roles": "use,maintenance"}
    [a] = features(client, decode, "accidents", 14, x, y)
    assert a["properties"]["id"] == crash.pk
    assert (a["properties"]["severity"], a["properties"]["deaths"]) == ("large", 3)
    assert dt.datetime.fromisoformat(a["properties"]["occurred_at"]) == crash.occurred_at
    [r] = features(client, decode, "resources", 14, x, y)
    assert r["properties"] == {"id": station.pk, "name": station.name, "type": "fire_station"}


def test_clusters_below_zoom_12_carry_count_and_dominant_kind(client, users, decode, place):
    points = jittered(XINGQING, 5, spread=0.001)
    for p in points[:3]:
        place(XINGQING, p, variety="4310")
    for p in points[3:]:
        place(XINGQING, p, variety="3110")
    client.force_login(users["xingqing"])
    x, y = tile_of(points[0].x, points[0].y, 11)
    [cluster] = features(client, decode, "equipment", 11, x, y)
    assert cluster["properties"] == {"count": 5, "cluster": 1, "kind": "4000"}
    x, y = tile_of(points[0].x, points[0].y, 12)
    assert len(features(client, decode, "equipment", 12, x, y)) == 5


def test_pipelines_are_lines_up_close_and_counted_far_away(client, users, decode, place):
    centre = inside(XINGQING)
    route = MultiLineString(
        LineString((centre.x - 0.002, centre.y), (centre.x + 0.002, centre.y + 0.001)), srid=4326
    )
    pipe = place(XINGQING, None, variety="8210", route=route)
    client.force_login(users["xingqing"])
    x, y = tile_of(centre.x, centre.y, 15)
    [line] = [
        f
        for f in features(client, decode, "equipment", 15, x, y)
        if f["properties"]["id"] == pipe.pk
    ]
    assert line["geometry"]["type"] in {"LineString", "MultiLineString"}
    assert line["properties"]["kind"] == "8000"
    total = sum(
        clustered(client, decode, "equipment", 8, tx, ty, kind="8000")
        for tx, ty in covering([Point(centre.x + dx, centre.y) for dx in (-0.002, 0.002)], 8)
    )
    assert total == 1 == api_count(client, "equipment", kind="8000")


def test_rows_without_geometry_never_break_a_tile(client, users, decode, place, make_unit):
    drop_empty_geometry_checks()  # empty geometries are legacy rows now: the registry refuses them
    centre = inside(XINGQING)
    place(XINGQING, centre)
    place(XINGQING, None)  # a device not yet located
    place(XINGQING, None, variety="8210")  # a pipeline without a route
    place(XINGQING, None, variety="8210", route=MultiLineString(srid=4326))  # an empty route
    nowhere = make_unit(XINGQING)
    Unit.objects.filter(pk=nowhere.pk).update(location=None)
    accident(XINGQING, None)
    accident(XINGQING, Point(srid=4326))  # an empty point
    client.force_login(users["xingqing"])
    for layer in LAYERS:
        for z in (0, 5, 11, 12, 16):
            x, y = tile_of(centre.x, centre.y, z)
            features(client, decode, layer, z, x, y)
        api_count(client, layer)
    assert api_count(client, "equipment") == 1
    assert api_count(client, "accidents") == 0


def test_feature_cap(client, users, decode, place, monkeypatch):
    for p in jittered(XINGQING, 5, spread=0.001):
        place(XINGQING, p)
    monkeypatch.setattr(tiles, "MAX_FEATURES", 3)
    client.force_login(users["xingqing"])
    centre = inside(XINGQING)
    x, y = tile_of(centre.x, centre.y, 13)
    assert len(features(client, decode, "equipment", 13, x, y)) == 3
    response = client.get(url("equipment", 13, x, y))
    assert response["X-Tile-Capped"] == "true"
    x, y = tile_of(centre.x, centre.y, 11)
    response = client.get(url("equipment", 11, x, y))  # clusters are never capped
    assert (response["X-Tile-Rows"], response.has_header("X-Tile-Capped")) == ("5", False)


# --------------------------------------------------------------------------- jurisdiction


def sign_in(client, user: User, credential: str) -> None:
    """Through the session, or with the map page's pass alone (no session at all)."""
    if credential == "session":
        client.force_login(user)
    else:
        client.logout()
        client.defaults["HTTP_X_MAP_PASS"] = map_pass.issue(user)["token"]


@pytest.mark.parametrize("credential", ["session", "pass"])
@pytest.mark.parametrize("layer", LAYERS)
def test_county_never_sees_another_county(client, users, decode, world, layer, credential):
    mine, theirs = world[layer]["mine"], world[layer]["theirs"]
    points = list(mine.values()) + list(theirs.values())
    sign_in(client, users["xingqing"], credential)
    for z in (0, 4, 8, 10, 11):
        total = sum(clustered(client, decode, layer, z, x, y) for x, y in covering(points, z))
        assert total == len(mine), (layer, z)
    for z in (12, 14, 16):
        seen = set()
        for x, y in covering(points, z):
            seen |= {f["properties"]["id"] for f in features(client, decode, layer, z, x, y)}
        assert seen == set(mine), (layer, z)
    assert api_count(client, layer) == len(mine)
    assert api_count(client, layer, region=XIXIA) == 0  # another county's prefix: nothing
    assert api_count(client, layer, region="64") == len(mine)  # a wider prefix: never wider


@pytest.mark.parametrize("layer", LAYERS)
def test_city_sees_both_counties_and_narrows_by_region(client, users, decode, world, layer):
    mine, theirs = world[layer]["mine"], world[layer]["theirs"]
    points = list(mine.values()) + list(theirs.values())
    client.force_login(users["city"])
    total = sum(clustered(client, decode, layer, 9, x, y) for x, y in covering(points, 9))
    assert total == len(mine) + len(theirs)
    assert api_count(client, layer, region=XIXIA) == len(theirs)
    narrowed = sum(
        clustered(client, decode, layer, 9, x, y, region=XINGQING) for x, y in covering(points, 9)
    )
    assert narrowed == len(mine)


@pytest.mark.parametrize("credential", ["session", "pass"])
def test_cached_tiles_are_not_shared_across_jurisdictions(client, users, decode, world, credential):
    points = list(world["equipment"]["mine"].values()) + list(world["equipment"]["theirs"].values())
    [(x, y)] = covering(points, 6)
    sign_in(client, users["city"], credential)
    assert clustered(client, decode, "equipment", 6, x, y) == 20
    sign_in(client, users["xingqing"], credential)
    assert clustered(client, decode, "equipment", 6, x, y) == 10


# --------------------------------------------------------------------------- map pass


class _SignedLongAgo(map_pass.signing.TimestampSigner):
    def timestamp(self):
        return map_pass.signing.b62_encode(int(timezone.now().timestamp()) - 3600)


def test_the_pass_speaks_for_its_holder_not_for_the_session(client, users, decode, world):
    points = list(world["equipment"]["mine"].values()) + list(world["equipment"]["theirs"].values())
    [(x, y)] = covering(points, 6)
    client.force_login(users["city"])
    client.defaults["HTTP_X_MAP_PASS"] = map_pass.issue(users["xingqing"])["token"]
    assert clustered(client, decode, "equipment", 6, x, y) == 10
    assert api_count(client, "equipment") == 10


def test_a_pass_spares_the_session_and_user_queries(
    client, users, place, django_assert_num_queries
):
    place(XINGQING, inside(XINGQING))
    client.defaults["HTTP_X_MAP_PASS"] = map_pass.issue(users["xingqing"])["token"]
    with django_assert_num_queries(1):  # the tile statement only (SET LOCAL travels with it)
        assert client.get(url("equipment", 5, 25, 12)).status_code == 200
    with django_assert_num_queries(0):  # cached
        assert client.get(url("equipment", 5, 25, 12)).status_code == 200


def _refused_for_pass(response) -> str:
    assert response.status_code == 401, response.content
    return response.json()["errors"]["pass"][0]["message"]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="signature"),
        pytest.param(
            lambda token: token.replace(token.split(":")[0], "eyJ1IjoxLCJwIjoiIn0"), id="payload"
        ),
        pytest.param(lambda token: "not-a-pass", id="garbage"),
        pytest.param(lambda token: "", id="empty"),
        pytest.param(
            # Another purpose's signature (same key, other salt) is not a pass.
            lambda token: map_pass.signing.TimestampSigner(salt="other").sign_object(
                {"u": 1, "p": ""}
            ),
            id="other-salt",
        ),
        pytest.param(
            lambda token: map_pass.signing.TimestampSigner(salt=map_pass._SALT).sign_object("64"),
            id="wrong-shape",
        ),
    ],
)
def test_a_forged_pass_is_refused_even_with_a_session(client, users, world, forge):
    client.force_login(users["national"])
    client.defaults["HTTP_X_MAP_PASS"] = forge(map_pass.issue(users["xingqing"])["token"])
    assert "无效" in _refused_for_pass(client.get(url("equipment", 6, 50, 24)))
    assert "not valid" in _refused_for_pass(client.get(count_url("equipment")))


def test_an_expired_pass_is_refused_and_renewed_through_the_session(client, users, world):
    old = _SignedLongAgo(salt=map_pass._SALT).sign_object(
        {"u": users["xingqing"].pk, "p": XINGQING}
    )
    client.defaults["HTTP_X_MAP_PASS"] = old
    assert "expired" in _refused_for_pass(client.get(count_url("equipment")))

    del client.defaults["HTTP_X_MAP_PASS"]
    renewal = client.get(reverse("tiles:pass"))
    assert renewal.status_code == 403  # no session, no new pass
    client.force_login(users["xingqing"])
    renewal = client.get(reverse("tiles:pass"))
    assert renewal.status_code == 200
    assert "no-store" in renewal["Cache-Control"]
    fresh = renewal.json()
    assert (fresh["header"], fresh["max_age_s"]) == ("X-Map-Pass", map_pass.max_age_s())
    client.logout()
    client.defaults["HTTP_X_MAP_PASS"] = fresh["token"]
    assert api_count(client, "equipment") == len(world["equipment"]["mine"])


def test_tile_answers_vary_on_the_pass(client, users):
    client.defaults["HTTP_X_MAP_PASS"] = map_pass.issue(users["xingqing"])["token"]
    vary = client.get(url("equipment", 5, 25, 12))["Vary"]
    assert {"Cookie", "X-Map-Pass"} <= {v.strip() for v in vary.split(",")}


def test_no_pass_for_a_user_without_jurisdiction(client, agencies):
    stray = User.objects.create_user("stray", password="pw-for-tests")
    client.force_login(stray)
    assert client.get(reverse("tiles:pass")).status_code == 403
    with pytest.raises(ValueError):
        map_pass.issue(stray)


# --------------------------------------------------------------------------- exact counts


@pytest.fixture
def grid(place):
    """Devices spread over the 4 children of a z=9 tile, and some exactly on its inner edges and
    on the corner the children share (x and y edges at this zoom are exact in degrees for x)."""
    z, (px, py) = 9, tile_of(inside(XINGQING).x, inside(XINGQING).y, 9)
    west, south, east, north = tile_box(z, px, py)
    mid_lon = (west + east) / 2  # exactly the children's shared x edge
    mid_lat = tile_box(z + 1, 2 * px, 2 * py)[1]  # the children's shared y edge
    points = [
        Point(west + (east - west) * fx, south + (north - south) * fy, srid=4326)
        for fx in (0.1, 0.3, 0.7, 0.9)
        for fy in (0.2, 0.45, 0.8)
    ]
    points += [
        Point(mid_lon, south + (north - south) * 0.3, srid=4326),
        Point(mid_lon, south + (north - south) * 0.9, srid=4326),
        Point(west, south + (north - south) * 0.5, srid=4326),  # on the parent's own west edge
    ]
    # On the children's shared y edge (a latitude: exact only up to the last bit of the projection).
    points += [
        Point(mid_lon, mid_lat, srid=4326),
        Point(west + (east - west) * 0.3, mid_lat, srid=4326),
    ]
    devices = [
        place(XINGQING, p, variety=["3110", "4310", "2150"][k % 3]) for k, p in enumerate(points)
    ]
    return z, px, py, points, [d.pk for d in devices[-2:]]


def test_children_clusters_sum_to_the_parent_and_the_database(client, users, decode, grid):
    z, px, py, points, _ = grid
    client.force_login(users["national"])
    parent = clustered(client, decode, "equipment", z, px, py)
    children = [
        clustered(client, decode, "equipment", z + 1, 2 * px + dx, 2 * py + dy)
        for dx in (0, 1)
        for dy in (0, 1)
    ]
    west, south, east, north = tile_box(z, px, py)
    in_area = [p for p in points if west <= p.x < east and south <= p.y < north]
    assert sum(children) == parent == len(in_area)
    assert all(children)  # the grid does fall on all four children
    # Every point lies in exactly one tile of each zoom: no edge point counted twice or lost.
    for zoom in (z, z + 1, z + 2):
        total = sum(
            clustered(client, decode, "equipment", zoom, x, y)
            for x, y in covering(points, zoom, around=1)
        )
        assert total == len(points), zoom


def test_count_over_a_tile_equals_its_clusters(client, users, decode, grid):
    """Points on a tile's x edges too: a tile's edge longitudes are exact, so the box and the tile
    agree on them to the bit. (A latitude edge cannot be exact; the grid's y-edge points go.)"""
    z, px, py, points, on_y_edge = grid
    Equipment.objects.filter(pk__in=on_y_edge).delete()
    points = points[: -len(on_y_edge)]
    client.force_login(users["national"])
    for zoom, x, y in [
        (z, px, py),
        *((z + 1, 2 * px + dx, 2 * py + dy) for dx in (0, 1) for dy in (0, 1)),
    ]:
        west, south, east, north = tile_box(zoom, x, y)
        expected = sum(1 for p in points if west <= p.x < east and south < p.y < north)
        counted = api_count(client, "equipment", bbox=f"{west!r},{south!r},{east!r},{north!r}")
        assert counted == clustered(client, decode, "equipment", zoom, x, y) == expected


def test_count_by_bbox_matches_the_database(client, users, world):
    client.force_login(users["city"])
    centre = inside(XINGQING)
    box = (centre.x - 0.008, centre.y - 0.02, centre.x + 0.02, centre.y + 0.008)
    expected = sum(
        1
        for p in Equipment.objects.within_prefix(YINCHUAN[:4]).values_list("location", flat=True)
        if box[0] <= p.x < box[2] and box[1] <= p.y < box[3]
    )
    assert 0 < expected < Equipment.objects.count()
    assert api_count(client, "equipment", bbox=",".join(map(str, box))) == expected


# --------------------------------------------------------------------------- filters


@pytest.fixture
def mixed(place):
    """One county, varied kinds, varieties, statuses and commissioning dates, all in one spot."""
    points = jittered(XINGQING, 12, spread=0.002)
    spec = [
        ("3110", "in_use", dt.date(2019, 1, 1)),
        ("3110", "suspended", dt.date(2020, 1, 1)),
        ("3120", "in_use", dt.date(2021, 1, 1)),
        ("4310", "in_use", dt.date(2022, 1, 1)),
        ("4310", "scrapped", dt.date(2023, 1, 1)),
        ("2150", "cancelled", dt.date(2024, 1, 1)),
    ]
    for k, p in enumerate(points):
        variety, status, day = spec[k % len(spec)]
        place(XINGQING, p, variety=variety, status=status, commissioned_on=day)
    return points


@pytest.mark.parametrize(
    "params, lookup",
    [
        ({"kind": "3000"}, {"kind__in": ["3000"]}),
        ({"kind": "3000,4000"}, {"kind__in": ["3000", "4000"]}),
        ({"variety": "3110"}, {"variety_id__in": ["3110"]}),
        ({"variety": "3100"}, {"variety__code__startswith": "31"}),  # a class: its varieties
        ({"status": "in_use,suspended"}, {"status__in": ["in_use", "suspended"]}),
        ({"from": "2021-01-01"}, {"commissioned_on__gte": dt.date(2021, 1, 1)}),
        ({"to": "2021-01-01"}, {"commissioned_on__lte": dt.date(2021, 1, 1)}),
        ({"region": XINGQING}, {"region_id": XINGQING}),
        ({"region": XIXIA}, {"region_id": XIXIA}),
    ],
)
def test_equipment_filters_change_results_as_the_database_says(
    client, users, decode, mixed, params, lookup
):
    expected = Equipment.objects.filter(**lookup).count()
    client.force_login(users["xingqing"])
    total = sum(
        clustered(client, decode, "equipment", 10, x, y, **params) for x, y in covering(mixed, 10)
    )
    assert total == expected == api_count(client, "equipment", **params)
    seen = set()
    for x, y in covering(mixed, 14):
        seen |= {
            f["properties"]["id"] for f in features(client, decode, "equipment", 14, x, y, **params)
        }
    assert seen == set(Equipment.objects.filter(**lookup).values_list("pk", flat=True))


def test_accident_windows_and_dates(client, users, place):
    point = inside(XINGQING)
    for days in (0.5, 3, 20, 200, 800):
        accident(XINGQING, point, days_ago=days)
    client.force_login(users["xingqing"])
    assert api_count(client, "accidents", window="24h") == 1
    assert api_count(client, "accidents", window="30d") == 3
    assert api_count(client, "accidents", window="1y") == 4
    assert api_count(client, "accidents") == 5
    local = timezone.localdate(timezone.now() - dt.timedelta(days=20))
    expected = Accident.objects.filter(occurred_at__date__gte=local).count()
    assert api_count(client, "accidents", **{"from": local.isoformat()}) == expected
    assert api_count(client, "accidents", to=local.isoformat()) == 5 - expected + sum(
        1 for a in Accident.objects.all() if timezone.localdate(a.occurred_at) == local
    )


def test_accidents_by_kind_of_equipment(client, users, place):
    point = inside(XINGQING)
    lift = place(XINGQING, point, variety="3110")
    crane = place(XINGQING, point, variety="4310")
    accident(XINGQING, point, equipment=lift)
    accident(XINGQING, point, equipment=crane)
    accident(XINGQING, point)
    client.force_login(users["xingqing"])
    assert api_count(client, "accidents", kind="3000") == 1
    assert api_count(client, "accidents", kind="3000,4000") == 2


def test_unit_roles_and_resource_types(client, users, make_unit):
    make_unit(XINGQING, roles=(UnitRole.USE,))
    make_unit(XINGQING, roles=(UnitRole.MAINTENANCE, UnitRole.RESCUE))
    make_unit(XINGQING, roles=(UnitRole.INSPECTION,))
    point = inside(XINGQING)
    resource(XINGQING, point, "hospital")
    resource(XINGQING, point, "fire_station")
    client.force_login(users["xingqing"])
    assert api_count(client, "units", role="maintenance") == 1
    assert api_count(client, "units", role="rescue,inspection") == 2
    assert api_count(client, "units") == 3
    assert api_count(client, "resources", type="hospital") == 1
    assert api_count(client, "resources", type="hospital,fire_station") == 2


def test_empty_values_mean_not_given(client, users, mixed):
    client.force_login(users["xingqing"])
    assert api_count(client, "equipment", kind="", status="") == len(mixed)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path, param",
    [
        (url("nosuchlayer", 0, 0, 0), "layer"),
        (url("equipment", 23, 0, 0), "z"),
        (url("equipment", "-1", 0, 0), "z"),
        (url("equipment", "a", 0, 0), "z"),
        (url("equipment", "²", 0, 0), "z"),
        (url("equipment", 3, 8, 0), "x"),
        (url("equipment", 3, 0, 8), "y"),
        (url("equipment", 3, "1e3", 0), "x"),
        (url("equipment", 0, 0, "9" * 5000), "y"),
        (url("equipment", 3, 0, 0, colour="red"), "colour"),
        (url("units", 3, 0, 0, kind="3000"), "kind"),  # not a filter of the units layer
        (url("overdue", 3, 0, 0, status="in_use"), "status"),
        (url("equipment", 3, 0, 0, bbox="0,0,1,1"), "bbox"),  # a count parameter, not a tile one
        (url("equipment", 3, 0, 0, kind="3100"), "kind"),
        (url("equipment", 3, 0, 0, kind="3000,,4000"), "kind"),
        (url("equipment", 3, 0, 0, variety="9999"), "variety"),
        (url("equipment", 3, 0, 0, status="broken"), "status"),
        (url("equipment", 3, 0, 0, region="6"), "region"),
        (url("equipment", 3, 0, 0, region="6401040"), "region"),
        (url("equipment", 3, 0, 0, region="64ab"), "region"),
        (url("equipment", 3, 0, 0, **{"from": "2024-13-01"}), "from"),
        (url("equipment", 3, 0, 0, to="yesterday"), "to"),
        (url("equipment", 3, 0, 0, **{"from": "2024-02-01", "to": "2024-01-01"}), "to"),
        (url("accidents", 3, 0, 0, window="2w"), "window"),
        (url("accidents", 3, 0, 0, window="24h", to="2024-01-01"), "window"),
        (url("units", 3, 0, 0, role="owner"), "role"),
        (url("resources", 3, 0, 0, type="tank"), "type"),
        (url("equipment", 3, 0, 0, kind="3000") + "&kind=4000", "kind"),
        (count_url("nosuchlayer"), "layer"),
        (count_url("equipment", bbox="1,2,3"), "bbox"),
        (count_url("equipment", bbox="a,b,c,d"), "bbox"),
        (count_url("equipment", bbox="nan,0,1,1"), "bbox"),
        (count_url("equipment", bbox="10,0,5,1"), "bbox"),  # inverted
        (count_url("equipment", bbox="0,10,1,5"), "bbox"),
        (count_url("equipment", bbox="-200,0,200,1"), "bbox"),  # more than 360°
        (count_url("equipment", bbox="0,-100,1,100"), "bbox"),  # more than 180°
        (count_url("equipment", page="2"), "page"),
        ("/tiles/layers.json?x=1", "x"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, users, path, param):
    client.force_login(users["national"])
    response = client.get(path)
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"], response.json()


# --------------------------------------------------------------------------- queries


def test_tile_request_runs_a_bounded_number_of_queries(
    client, users, place, django_assert_max_num_queries
):
    points = jittered(XINGQING, 30, spread=0.003)
    for p in points:
        place(XINGQING, p)
    client.force_login(users["xingqing"])
    # session, user, agency; SET LOCAL jit and the tile (a savepoint pair inside the test's transaction)
    for z in (5, 14):
        tiles.CACHE.clear()
        x, y = tile_of(points[0].x, points[0].y, z)
        with django_assert_max_num_queries(7):
            assert client.get(url("equipment", z, x, y, kind="3000")).status_code == 200
    with django_assert_max_num_queries(7):
        assert client.get(count_url("overdue", region=XINGQING)).status_code == 200


def test_a_cached_tile_costs_no_tile_query(client, users, place, django_assert_max_num_queries):
    place(XINGQING, inside(XINGQING))
    client.force_login(users["xingqing"])
    client.get(url("equipment", 5, 25, 12))
    with django_assert_max_num_queries(3):  # session, user, agency
        client.get(url("equipment", 5, 25, 12))


def test_world_coordinates_agree_with_st_transform():
    """The SQL projection of points equals PostGIS's ST_Transform to 3857 (to a micrometre)."""
    projected = tiles.metres(*tiles.world("p"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT max(abs(ST_X({projected}) - ST_X(ST_Transform(p, 3857)))),
                       max(abs(ST_Y({projected}) - ST_Y(ST_Transform(p, 3857))))
                FROM (SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS p
                      FROM generate_series(-179, 179, 7) lon, generate_series(-85, 85, 5) lat) s"""
        )
        dx, dy = cursor.fetchone()
    assert dx < 1e-6 and dy < 1e-6


def _gist_indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING gist%%'",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def _plan(statement) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement.text, statement.params)
        return "\n".join(row[0] for row in cursor.fetchall())


TABLES = {
    "equipment": "registry_equipment",
    "overdue": "registry_equipment",
    "units": "registry_unit",
    "accidents": "registry_accident",
    "resources": "registry_emergencyresource",
}


@pytest.fixture
def spread(make_unit):
    """A few thousand rows of each layer strewn over Ningxia, analysed: enough for the planner to
    prefer the GiST index to a sequential scan for a small area, as it does on real tables."""
    rng = random.Random(2026)
    unit = make_unit(XINGQING)

    def point() -> Point:
        return Point(rng.uniform(104.3, 107.6), rng.uniform(35.3, 39.3), srid=4326)

    Equipment.objects.bulk_create(
        Equipment(
            variety_id="3110",
            kind="3000",
            status="in_use" if k % 10 else "suspended",
            next_inspection_due=today() + dt.timedelta(days=k % 60 - 3),
            location=point(),
            region_id=XINGQING,
            use_unit=unit,
        )
        for k in range(4000)
    )
    Unit.objects.bulk_create(
        Unit(name=f"单位{k}", roles=["use"], location=point(), region_id=XINGQING)
        for k in range(2000)
    )
    Accident.objects.bulk_create(
        Accident(occurred_at=timezone.now(), kind="困人", location=point(), region_id=XINGQING)
        for _ in range(2000)
    )
    EmergencyResource.objects.bulk_create(
        EmergencyResource(
            name=f"站{k}", resource_type="hospital", location=point(), region_id=XINGQING
        )
        for k in range(2000)
    )
    with connection.cursor() as cursor:
        for table in sorted(set(TABLES.values())):
            cursor.execute(f"ANALYZE {table}")


def test_tile_and_count_queries_use_the_gist_index(users, spread):
    user, centre = users["city"], inside(XINGQING)
    for layer, table in TABLES.items():
        indexes = _gist_indexes(table)
        assert indexes, table
        plans = []
        query = parse_query(layer, QueryDict(""))
        for z in (11, 14):  # a cluster tile and a feature tile
            x, y = tile_of(centre.x, centre.y, z)
            # Live clusters: equipment's pre-counted ones read their own index (test_cells.py).
            statement = tiles.tile_sql(layer, user, query, z, x, y, today(), precounted=False)
            plans.append(_plan(statement))
        bbox = f"{centre.x - 0.01},{centre.y - 0.01},{centre.x + 0.01},{centre.y + 0.01}"
        query = parse_query(layer, QueryDict(f"bbox={bbox}"), allow_bbox=True)
        plans.append(_plan(counts.count_sql(layer, user, query, today())))
        for plan in plans:
            assert any(index in plan for index in indexes), (layer, plan)
            assert f"Seq Scan on {table}" not in plan, (layer, plan)


def test_sql_carries_no_user_input_in_its_text(users):
    """Filter values travel as parameters: the statement text is the same whatever they are."""
    user = users["national"]
    a = parse_query("equipment", QueryDict("kind=3000&region=64&from=2020-01-01"))
    b = parse_query("equipment", QueryDict("kind=4000&region=11&from=2021-05-05"))
    assert tiles.tile_sql("equipment", user, a, 5, 1, 1, today()).text == (
        tiles.tile_sql("equipment", user, b, 5, 1, 1, today()).text
    )


def test_tile_bounds_match_st_tile_envelope():
    with connection.cursor() as cursor:
        for z, x, y in [(0, 0, 0), (3, 6, 2), (11, 1630, 770), (22, 3338400, 1580000)]:
            cursor.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ST_TileEnvelope(%s, %s, %s) e",
                [z, x, y],
            )
            assert tiles.tile_bounds(z, x, y) == cursor.fetchone()


def test_a_tile_costs_the_session_the_user_with_agency_and_the_tile(
    client, users, django_assert_num_queries
):
    client.force_login(users["xingqing"])
    x, y = tile_of(106.3, 38.5, 6)
    with django_assert_num_queries(3):
        assert client.get(url("equipment", 6, x, y)).status_code == 200
