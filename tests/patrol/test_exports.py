"""A plan's routes leave as GPX and GeoJSON (read back with lxml and with GDAL) and as a printable
sheet per team and day: stops in order at the devices' places, contacts masked or audited, all
scoped like the plan."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyogrio
import pyogrio.raw
import pytest
import shapely
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from lxml import etree

from accounts.models import AuditEntry, Role, User
from geo.offline import external_asset_urls
from patrol.exports import _marker_groups
from patrol.models import PatrolRoute, PatrolStop
from registry.models import Equipment
from tests.conftest import XINGQING, XIXIA
from tests.patrol.conftest import ON
from tests.response.conftest import scatter

pytestmark = pytest.mark.django_db

PLANS = "/patrol/api/plans/"
PERIOD = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=13)).isoformat()}
GPX = "{http://www.topografix.com/GPX/1/1}"
PHONE = "13912345678"
# The GPX 1.1 schema's sequences (gpx.xsd): the order children may come in.
GPX_ORDER = {
    "gpx": ["metadata", "wpt", "rte", "trk", "extensions"],
    "wpt": ["ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link", "sym",
            "type", "fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "extensions"],
    "trk": ["name", "cmt", "desc", "src", "link", "number", "type", "extensions", "trkseg"],
    "trkseg": ["trkpt", "extensions"],
    "metadata": ["name", "desc", "author", "copyright", "link", "time", "keywords", "bounds",
                 "extensions"],
}  # fmt: skip


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user(agencies, name: str, code: str, role: str) -> User:
    return User.objects.create_user(name, password="pw", agency=agencies[code], role=role)


@pytest.fixture
def people(agencies) -> dict[str, User]:
    return {
        "planner": user(agencies, "sup_xingqing", XINGQING, Role.SUPERVISOR),
        "neighbour": user(agencies, "sup_xixia", XIXIA, Role.SUPERVISOR),
        "member": user(agencies, "insp_member", XINGQING, Role.INSPECTOR),
        "outsider": user(agencies, "insp_other", XINGQING, Role.INSPECTOR),
        "responder": user(agencies, "resp_xingqing", XINGQING, Role.RESPONDER),
    }


@pytest.fixture
def devices(device, make_unit) -> list[Equipment]:
    """Nine overdue lifts and boilers scattered over 兴庆区, each with its own use unit and phone."""
    return [
        device(
            XINGQING,
            "3110" if i % 3 else "1100",
            due=ON - dt.timedelta(days=40 + 30 * i),
            location=point,
            address=f"兴庆区测试路{i + 1}号",
            use_unit=make_unit(
                XINGQING, contact_name=f"联系人{i}", contact_phone=f"1391234{i:04d}"
            ),
        )
        for i, point in enumerate(scatter(XINGQING, 9, seed=11))
    ]


@pytest.fixture
def office() -> tuple[list[float], list[float]]:
    start, end = scatter(XINGQING, 2, seed=99)
    return [start.x, start.y], [end.x, end.y]


def make_plan(planner: User) -> int:
    response = client_for(planner).post(PLANS, {"period": PERIOD}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def plan(people, devices, office) -> int:
    """Two teams over two days; the member is in team 1; the teams leave and return elsewhere."""
    plan_id = make_plan(people["planner"])
    start, end = office
    body = {
        "teams": {"count": 2, "hours": 8, "start": start, "end": end,
                  "members": [[people["member"].pk]]},
        "days": 2,
    }  # fmt: skip
    response = client_for(people["planner"]).post(
        f"{PLANS}{plan_id}/routes/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return plan_id


def routes_in_db(plan_id: int) -> list[dict]:
    """Each route's label and its stops' device codes, kinds and places, read from the tables."""
    found = []
    for route in PatrolRoute.objects.filter(plan_id=plan_id).order_by("day", "team__number"):
        stops = PatrolStop.objects.filter(route=route).order_by("sequence")
        devices = [Equipment.objects.get(pk=s.candidate.equipment_id) for s in stops]
        found.append(
            {
                "id": route.pk,
                "label": f"第{route.team.number}组 / Team {route.team.number} {route.day}",
                "codes": [d.device_code for d in devices],
                "kinds": [d.kind for d in devices],
                "places": [(d.location.x, d.location.y) for d in devices],
                "arrivals": [s.arrival_minutes for s in stops],
            }
        )
    assert sum(len(r["codes"]) for r in found) == 9 and len(found) >= 2
    return found


def local(tag) -> str:
    return etree.QName(tag).localname


def assert_schema_order(element) -> None:
    order = GPX_ORDER.get(local(element.tag))
    if order is None:
        return
    positions = [order.index(local(child.tag)) for child in element]
    assert positions == sorted(positions), local(element.tag)
    for child in element:
        assert_schema_order(child)


def flat(points) -> list[float]:
    """Coordinate pairs as one list of numbers, for pytest.approx (which does not nest)."""
    return [float(v) for point in points for v in point]


def close(found, expected) -> bool:
    return flat(found) == pytest.approx(flat(expected), abs=1e-7)


def read_with_gdal(source, layer: str | None = None) -> tuple[list, dict[str, list]]:
    """GDAL's reading (pyogrio, no geopandas): shapely geometries and the columns by name."""
    meta, _, geometries, columns = pyogrio.raw.read(source, layer=layer)
    fields = {name: list(values) for name, values in zip(meta["fields"], columns, strict=True)}
    return list(shapely.from_wkb(geometries)), fields


def lonlat(element) -> tuple[float, float]:
    return float(element.get("lon")), float(element.get("lat"))


# --------------------------------------------------------------------------- GPX


def test_gpx_tracks_and_waypoints_follow_the_routes(people, plan, office, tmp_path):
    response = client_for(people["planner"]).get(f"/patrol/plans/{plan}/routes.gpx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gpx+xml"
    assert response["Content-Disposition"] == f'attachment; filename="patrol-plan-{plan}.gpx"'
    root = etree.fromstring(response.content)
    assert root.tag == f"{GPX}gpx" and root.get("version") == "1.1"
    assert_schema_order(root)
    start, end = office
    expected = routes_in_db(plan)

    tracks = root.findall(f"{GPX}trk")
    assert [t.findtext(f"{GPX}name") for t in tracks] == [r["label"] for r in expected]
    for track, route in zip(tracks, expected, strict=True):
        points = [lonlat(p) for p in track.iterfind(f"{GPX}trkseg/{GPX}trkpt")]
        assert close(points, [start, *route["places"], end])

    waypoints = root.findall(f"{GPX}wpt")
    bases = [w for w in waypoints if w.findtext(f"{GPX}type") in ("start", "end")]
    teams = PatrolRoute.objects.filter(plan_id=plan).values("team").distinct().count()
    assert close([lonlat(w) for w in bases], [start, end] * teams)
    for route in expected:
        mine = [w for w in waypoints if w.findtext(f"{GPX}cmt") == route["label"]]
        assert [w.findtext(f"{GPX}name") for w in mine] == [
            f"{n}. {code}" for n, code in enumerate(route["codes"], start=1)
        ]
        assert close([lonlat(w) for w in mine], route["places"])
        assert [w.findtext(f"{GPX}type") for w in mine] == route["kinds"]
        for w in mine:
            assert "兴庆区测试路" in w.findtext(f"{GPX}desc")
            assert "逾期" in w.findtext(f"{GPX}desc")

    # GDAL reads the same file: its GPX driver's tracks and waypoints layers.
    path = tmp_path / "plan.gpx"
    path.write_bytes(response.content)
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"waypoints", "tracks"} <= layers
    lines, fields = read_with_gdal(path, "tracks")
    assert fields["name"] == [r["label"] for r in expected]
    for geometry, route in zip(lines, expected, strict=True):
        coords = shapely.get_coordinates(geometry).tolist()
        assert close(coords, [start, *route["places"], end])
    points, fields = read_with_gdal(path, "waypoints")
    stops = [i for i, kind in enumerate(fields["type"]) if kind not in ("start", "end")]
    assert [fields["name"][i] for i in stops] == [
        f"{n}. {code}" for r in expected for n, code in enumerate(r["codes"], start=1)
    ]
    assert close(
        [(points[i].x, points[i].y) for i in stops], [p for r in expected for p in r["places"]]
    )


def test_one_route_exports_alone(people, plan):
    first, second = routes_in_db(plan)[:2]
    response = client_for(people["planner"]).get(
        f"/patrol/plans/{plan}/routes.gpx", {"route": second["id"]}
    )
    assert response.status_code == 200
    assert f"patrol-plan-{plan}-route-{second['id']}.gpx" in response["Content-Disposition"]
    root = etree.fromstring(response.content)
    assert [t.findtext(f"{GPX}name") for t in root.findall(f"{GPX}trk")] == [second["label"]]
    labels = {w.findtext(f"{GPX}cmt") for w in root.findall(f"{GPX}wpt")} - {None}
    assert labels == {second["label"]}


@pytest.mark.parametrize("suffix", ["gpx", "geojson"])
def test_another_plans_route_is_a_400_naming_route(people, plan, suffix):
    other_plan = make_plan(people["planner"])
    client_for(people["planner"]).post(
        f"{PLANS}{other_plan}/routes/", {"days": 1}, content_type="application/json"
    )
    other_route = PatrolRoute.objects.filter(plan_id=other_plan).first()
    client = client_for(people["planner"])
    for value in (other_route.pk, "abc", 10**9):
        response = client.get(f"/patrol/plans/{plan}/routes.{suffix}", {"route": value})
        assert response.status_code == 400, response.content
        assert "route" in response.json()["errors"]


def test_the_export_reads_a_fixed_number_of_queries(people, plan):
    """Two routes or one: the same queries (no query per route or stop)."""
    client = client_for(people["planner"])
    one = PatrolRoute.objects.filter(plan_id=plan).first().pk
    counts = []
    for params in ({}, {"route": one}):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/patrol/plans/{plan}/routes.gpx", params).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_export_is_audited(people, plan):
    client_for(people["member"]).get(f"/patrol/plans/{plan}/routes.geojson")
    entry = AuditEntry.objects.get(action="patrol.exported")
    assert entry.actor == people["member"] and entry.after["format"] == "geojson"
    assert len(entry.after["routes"]) == PatrolRoute.objects.filter(plan_id=plan).count()


# --------------------------------------------------------------------------- GeoJSON


def test_geojson_has_a_line_per_route_and_a_point_per_stop(people, plan, office):
    response = client_for(people["planner"]).get(f"/patrol/plans/{plan}/routes.geojson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response["Content-Disposition"] == f'attachment; filename="patrol-plan-{plan}.geojson"'
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection" and "crs" not in body
    start, end = office
    expected = routes_in_db(plan)
    lines = [f for f in body["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in body["features"] if f["geometry"]["type"] == "Point"]
    assert [(f["properties"]["team"] + " " + f["properties"]["day"]) for f in lines] == [
        r["label"] for r in expected
    ]
    for line, route in zip(lines, expected, strict=True):
        assert close(line["geometry"]["coordinates"], [start, *route["places"], end])
        assert line["properties"]["minutes"] == pytest.approx(
            PatrolRoute.objects.get(pk=route["id"]).total_minutes, abs=0.05
        )
        mine = [p for p in points if p["properties"]["route"] == route["id"]]
        assert [p["properties"]["sequence"] for p in mine] == list(range(1, len(mine) + 1))
        assert [p["properties"]["device_code"] for p in mine] == route["codes"]
        assert close([p["geometry"]["coordinates"] for p in mine], route["places"])
        assert [p["properties"]["arrival_minutes"] for p in mine] == pytest.approx(
            route["arrivals"], abs=0.06
        )
        for p in mine:
            assert p["properties"]["kind"] in ("1000", "3000")
            assert p["properties"]["address"].startswith("兴庆区测试路")
            assert "逾期" in p["properties"]["reasons"] and p["properties"]["score"] > 0

    # GDAL reads it as one layer of lines and points with the same order.
    shapes, fields = read_with_gdal(io.BytesIO(response.content))
    stops = [i for i, shape in enumerate(shapes) if shape.geom_type == "Point"]
    assert [fields["device_code"][i] for i in stops] == [c for r in expected for c in r["codes"]]
    assert close(
        [(shapes[i].x, shapes[i].y) for i in stops], [p for r in expected for p in r["places"]]
    )


def test_geojson_for_one_route(people, plan):
    route = routes_in_db(plan)[0]
    response = client_for(people["planner"]).get(
        f"/patrol/plans/{plan}/routes.geojson", {"route": route["id"]}
    )
    features = response.json()["features"]
    assert {f["properties"]["route"] for f in features} == {route["id"]}
    assert len(features) == 1 + len(route["codes"])


# --------------------------------------------------------------------------- the sheet


def sheet(user, route_id: int):
    return client_for(user).get(f"/patrol/routes/{route_id}/sheet/")


def clock(minutes: float) -> str:
    return (dt.datetime(2026, 1, 1, 8, 30) + dt.timedelta(minutes=round(minutes))).strftime("%H:%M")


def test_the_sheet_lists_the_stops_in_order_with_times_and_checks(people, plan):
    route = routes_in_db(plan)[0]
    response = sheet(people["planner"], route["id"])
    assert response.status_code == 200
    html = response.content.decode()
    assert route["label"].split(" ")[0] in html and "打印" in html
    assert "insp_member" in html  # team 1's inspector
    positions = [html.index(f'id="stop-{n}"') for n in range(1, len(route["codes"]) + 1)]
    assert positions == sorted(positions)
    for n, (code, minutes) in enumerate(zip(route["codes"], route["arrivals"], strict=True), 1):
        row = html[positions[n - 1] : positions[n] if n < len(positions) else None]
        assert code in row and clock(minutes) in row
        device = Equipment.objects.get(device_code=code)
        days = (ON - device.next_inspection_due).days
        assert f"逾期 {days} 天" in row
        checks = (
            ("维保记录", "安全部件", "应急救援电话")
            if device.kind == "3000"
            else ("水位计", "安全阀", "压力表")
        )
        assert all(c in row for c in checks)
        assert device.use_unit.name in row
    assert external_asset_urls(html) == []
    assert "L.map" in html and "route-sheet-stop" in html


def test_a_supervisor_sees_phones_in_full_and_leaves_an_audit_row(people, plan):
    route = routes_in_db(plan)[0]
    html = sheet(people["planner"], route["id"]).content.decode()
    units = [Equipment.objects.get(device_code=c).use_unit for c in route["codes"]]
    assert all(u.contact_phone in html for u in units) and "phones masked" not in html
    read = AuditEntry.objects.filter(action="personal_data.read", actor=people["planner"])
    assert sorted(int(e.object_pk) for e in read) == sorted(u.pk for u in units)
    assert {e.after["purpose"] for e in read} == {"patrol route sheet"}


def test_an_inspector_sees_masked_phones_and_nothing_is_audited(people, plan):
    route = routes_in_db(plan)[0]  # team 1, the member's
    response = sheet(people["member"], route["id"])
    assert response.status_code == 200
    html = response.content.decode()
    for code in route["codes"]:
        phone = Equipment.objects.get(device_code=code).use_unit.contact_phone
        assert phone not in html and f"{phone[:3]}****{phone[-4:]}" in html
    assert "电话已脱敏" in html
    assert not AuditEntry.objects.filter(action="personal_data.read").exists()


# --------------------------------------------------------------------------- who may


def urls(plan_id: int, route_id: int) -> list[str]:
    return [
        f"/patrol/plans/{plan_id}/routes.gpx",
        f"/patrol/plans/{plan_id}/routes.geojson",
        f"/patrol/routes/{route_id}/sheet/",
    ]


def team_routes(plan_id: int, number: int) -> PatrolRoute:
    return PatrolRoute.objects.filter(plan_id=plan_id, team__number=number).first()


def test_another_county_gets_404_everywhere(people, plan):
    for url in urls(plan, team_routes(plan, 1).pk):
        assert client_for(people["neighbour"]).get(url).status_code == 404, url


def test_an_inspector_sees_only_their_teams_plan(people, plan):
    mine = team_routes(plan, 1).pk
    for url in urls(plan, mine):
        assert client_for(people["member"]).get(url).status_code == 200, url
        assert client_for(people["outsider"]).get(url).status_code == 404, url


def test_other_roles_and_visitors_are_turned_away(people, plan):
    gpx, geojson, page = urls(plan, team_routes(plan, 1).pk)
    for url in (gpx, geojson, page):
        assert client_for(people["responder"]).get(url).status_code == 403, url
    anonymous = Client()
    for url in (gpx, geojson):
        assert anonymous.get(url).status_code in (401, 403)
    response = anonymous.get(page)
    assert response.status_code == 302 and "login" in response["Location"]


def test_stops_at_one_spot_share_a_marker():
    """Two stops a few metres apart on a 10 km map would hide each other: one marker "2·3"."""
    rows = [
        {"sequence": 1, "lat": 38.40, "lon": 106.20},
        {"sequence": 2, "lat": 38.48, "lon": 106.30},
        {"sequence": 3, "lat": 38.48005, "lon": 106.30005},
        {"sequence": 4, "lat": None, "lon": None},
    ]
    groups = _marker_groups(rows, (38.40, 106.20, 38.49, 106.31))
    assert [numbers for _, numbers in groups] == [[1], [2, 3]]
