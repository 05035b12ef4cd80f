"""The pre-counted grid cells behind low-zoom equipment tiles (maps.cells, tiles.precounted_tile_sql).

The expected cells are counted here in Python from the equipment rows (the slippy-map formulas, a
GEOS midpoint for pipelines), never by the SQL under test; the pre-counted tiles are compared with
the live cluster tiles, which read the equipment table itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.http import QueryDict
from django.utils import timezone

from layers import sources
from layers.filters import parse_query
from maps import cells, counts, tiles
from maps.models import EquipmentCell
from registry.models import Equipment
from registry.synthetic import generate
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    """The day the server counts in (Asia/Shanghai), read when asked: a run that passes local
    midnight (16:00 UTC) would otherwise set devices up against yesterday."""
    return timezone.localdate()


KEY = ("level", "depth", "region", "gx", "gy", "variety_id", "kind", "status")


def world_cell(point: Point, level: int) -> tuple[int, int]:
    n = 1 << level
    lat = math.radians(point.y)
    u = (point.x + 180) / 360
    v = (1 - math.asinh(math.tan(lat)) / math.pi) / 2
    return math.floor(u * n), math.floor(v * n)


def cluster_point(row: dict) -> Point | None:
    if row["location"] is not None:
        return row["location"]
    if row["route"] is not None:
        return row["route"][0].interpolate_normalized(0.5)
    return None


def expected_cells() -> dict[tuple, tuple[int, float, float]]:
    found: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0.0])
    fields = ("location", "route", "region_id", "variety_id", "kind", "status")
    for row in Equipment.objects.values(*fields):
        point = cluster_point(row)
        if point is None:
            continue
        for level in cells.LEVELS:
            gx, gy = world_cell(point, level)
            for depth in cells.DEPTHS:
                key = (level, depth, row["region_id"][:depth], gx, gy)
                key += (row["variety_id"], row["kind"], row["status"])
                found[key][0] += 1
                found[key][1] += point.x
                found[key][2] += point.y
    return {key: tuple(value) for key, value in found.items()}


def assert_cells_in_step() -> None:
    stored = {tuple(c[:8]): c[8:] for c in EquipmentCell.objects.values_list(*KEY, "n", "sx", "sy")}
    expected = expected_cells()
    assert stored.keys() == expected.keys()
    for key, (n, sx, sy) in expected.items():
        assert stored[key][0] == n, key
        assert stored[key][1] / n == pytest.approx(sx / n, abs=1e-9)
        assert stored[key][2] / n == pytest.approx(sy / n, abs=1e-9)
    assert cells.differences() == []


def spread(code: str, n: int, step: float = 0.004) -> list[Point]:
    centre = inside(code)
    return [
        Point(
            centre.x + step * math.cos(k * 2.4) * k**0.5,
            centre.y + step * math.sin(k * 2.4) * k**0.5,
        )
        for k in range(1, n + 1)
    ]


@pytest.fixture
def fleet(make_equipment, make_unit):
    """Devices of several kinds and statuses in three counties, and a pipeline: a few through the
    registry's service, the rest in one bulk insert (each a different statement for the triggers)."""
    varieties = ["3110", "3120", "4110", "2150", "1100", "5110"]
    statuses = ["in_use", "in_use", "suspended", "cancelled"]
    made, bulk = [], []
    for code in (XINGQING, XIXIA, SHIZUISHAN_DAWUKOU):
        unit = make_unit(code)
        for k, point in enumerate(spread(code, 24, step=0.002)):
            variety, status = varieties[k % len(varieties)], statuses[k % len(statuses)]
            if k < 3:
                made.append(make_equipment(code, variety, location=point, use_unit=unit))
                Equipment.objects.filter(pk=made[-1].pk).update(status=status)
            else:
                bulk.append(
                    Equipment(
                        variety_id=variety,
                        kind=variety[0] + "000",
                        status=status,
                        location=point,
                        region_id=code,
                        use_unit=unit,
                    )
                )
    made += Equipment.objects.bulk_create(bulk)
    centre = inside(XINGQING)
    route = MultiLineString(
        LineString((centre.x, centre.y), (centre.x + 0.05, centre.y + 0.02)), srid=4326
    )
    made.append(make_equipment(XINGQING, "8210", route=route))
    made.append(make_equipment(XIXIA, "3110", location=None, declared_region_code=XIXIA))
    return made


# --------------------------------------------------------------------------- in step with writes


def test_registered_devices_are_counted(fleet):
    assert_cells_in_step()
    total = EquipmentCell.objects.filter(level=14, depth=0).values_list("n", flat=True)
    assert sum(total) == Equipment.objects.exclude(location=None, route=None).count()


def test_updates_move_devices_between_cells(fleet):
    first, second = fleet[0], fleet[1]
    first.location = inside(SHIZUISHAN_DAWUKOU)
    first.region_id = SHIZUISHAN_DAWUKOU
    first.save()
    second.status = "scrapped"
    second.save(update_fields=["status"])
    assert_cells_in_step()
    Equipment.objects.filter(region_id=XIXIA).update(status="suspended")
    Equipment.objects.filter(region_id=XINGQING, kind="3000").update(location=inside(XINGQING))
    assert_cells_in_step()


def test_deletes_empty_the_cells(fleet):
    # Devices are cancelled, not deleted, and their history is append-only: only a database
    # clean-up deletes rows, so this one does it in SQL.
    with connection.cursor() as cursor:
        for where, params in (("region_id = %s", [XIXIA]), ("id = %s", [fleet[0].pk])):
            cursor.execute(
                "DELETE FROM registry_lifecycleevent WHERE equipment_id IN "
                f"(SELECT id FROM registry_equipment WHERE {where})",
                params,
            )
            cursor.execute(f"DELETE FROM registry_equipment WHERE {where}", params)
    assert_cells_in_step()
    assert not EquipmentCell.objects.filter(depth=6, region=XIXIA).exists()
    assert not EquipmentCell.objects.filter(n__lte=0).exists()


def test_bulk_create_and_copy_are_counted(fleet):
    template = fleet[0]
    Equipment.objects.bulk_create(
        Equipment(
            variety_id="4110",
            kind="4000",
            status="in_use",
            location=point,
            region_id=XIXIA,
            use_unit_id=template.use_unit_id,
        )
        for point in spread(XIXIA, 30, step=0.01)
    )
    generate(prefix="110101", devices=300, seed=7)  # COPY, statement by statement
    assert_cells_in_step()


def test_truncating_both_tables_in_one_statement_empties_the_cells(fleet):
    """What Django's flush does after a live-server test."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # no deferred checks pending: TRUNCATE may run
        cursor.execute(
            "TRUNCATE registry_equipment, layers_equipmentcell, registry_lifecycleevent, "
            "registry_inspection, registry_accident CASCADE"
        )
    assert not EquipmentCell.objects.exists()


def test_truncating_the_equipment_empties_the_cells(fleet):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE registry_equipment CASCADE")
    assert not EquipmentCell.objects.exists()


def test_a_rolled_back_write_leaves_the_cells_as_they_were(fleet):
    before = set(EquipmentCell.objects.values_list(*KEY, "n"))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        Equipment.objects.filter(region_id=XINGQING).update(status="scrapped", location=None)
        raise Abort
    assert set(EquipmentCell.objects.values_list(*KEY, "n")) == before


def test_check_finds_drift_and_rebuild_repairs_it(fleet):
    EquipmentCell.objects.filter(level=8, depth=6, region=XIXIA).update(n=F("n") + 1)
    EquipmentCell.objects.filter(level=5, depth=0).delete()
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_tile_cells", check=True)
    call_command("rebuild_tile_cells")
    call_command("rebuild_tile_cells", check=True)
    assert_cells_in_step()


def test_the_installed_trigger_is_this_modules():
    """A change to maps.cells' SQL needs a migration that installs it again."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [cells.FUNCTION])
        (installed,) = cursor.fetchone()
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'registry_equipment'::regclass "
            "AND NOT tgisinternal"
        )
        triggers = {row[0] for row in cursor.fetchall()}
    assert installed == cells.function_sql().split("$body$")[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = %s", [f"{cells.FUNCTION}_truncate"]
        )
        assert cursor.fetchone()[0] == cells.TRUNCATE_BODY.split("$body$")[1]
    assert {f"{cells.FUNCTION}_{op.lower()}" for op in cells.TRIGGERS} <= triggers


# --------------------------------------------------------------------------- the tiles they serve


def _tile(statement) -> dict:
    mvt = pytest.importorskip("mapbox_vector_tile")
    body, rows = sources.execute(statement)
    decoded = mvt.decode(bytes(body)) if body else {}
    features = decoded.get("equipment", {}).get("features", [])
    clusters = {}
    for f in features:
        x, y = f["geometry"]["coordinates"]
        clusters[(round(x / 8), round(y / 8))] = (f["properties"]["count"], f["properties"]["kind"])
    return {
        "rows": int(rows),
        "clusters": clusters,
        "points": [f["geometry"]["coordinates"] for f in features],
    }


FILTERS = [
    "",
    "kind=3000",
    "variety=3100",
    "variety=3110,4110",
    "status=in_use",
    "status=suspended,cancelled&kind=3000,4000",
    "region=6401",
    "region=640",
    "region=64010",
    "region=640104",
    "region=640202&kind=3000",
    "region=11",
]


CASES = [("national", params) for params in FILTERS] + [
    (who, params)
    for who in ("province", "city", "xingqing")
    for params in (
        "",
        "status=in_use",
        "region=640",
        "region=6401",
        "region=640202&kind=3000",
        "region=11",
    )
]


@pytest.mark.parametrize("who, params", CASES)
def test_precounted_tiles_equal_live_tiles(fleet, users, who, params):
    user = users[who]
    query = parse_query("equipment", QueryDict(params))
    points = [p for e in fleet for p in [e.location] if p is not None]
    compared = 0
    for z in (0, 2, 3, 5, 7, 8, 9, 10, 11):  # each stored level, read as it is and shifted
        for x, y in {world_cell(p, z) for p in points}:
            try:
                fast = _tile(tiles.precounted_tile_sql(user, query, z, x, y))
            except sources.NothingVisible:  # the region filter is outside the jurisdiction
                fast = {"rows": 0, "clusters": {}, "points": []}
            live = _tile(
                tiles.tile_sql("equipment", user, query, z, x, y, today(), precounted=False)
            )
            assert fast["rows"] == live["rows"], (z, x, y)
            assert fast["clusters"].keys() == live["clusters"].keys(), (z, x, y)
            assert fast["clusters"] == live["clusters"], (z, x, y)
            for a, b in zip(sorted(fast["points"]), sorted(live["points"]), strict=True):
                assert abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1
            compared += fast["rows"]
            if z == 0:  # one tile holds everything: the ORM's count of the filtered rows
                visible = query.apply(Equipment.objects.visible_to(user))
                assert fast["rows"] == visible.exclude(location=None, route=None).count()
    if who == "xingqing" and params.startswith("region=640202"):
        assert compared == 0  # another county: nothing, though the cells hold it
    elif params in ("", "kind=3000"):
        assert compared > 0


def test_county_cells_never_reach_another_county(fleet, users):
    query = parse_query("equipment", QueryDict(""))
    theirs = inside(XIXIA)
    z = 11
    x, y = world_cell(theirs, z)
    mine = _tile(tiles.tile_sql("equipment", users["xingqing"], query, z, x, y, today()))
    expected = Equipment.objects.filter(region_id=XINGQING).exclude(location=None, route=None)
    assert mine["rows"] <= expected.count()
    city = _tile(tiles.tile_sql("equipment", users["city"], query, z, x, y, today()))
    assert city["rows"] > mine["rows"]


@pytest.mark.parametrize("params", ["from=2020-01-01", "to=2030-01-01&kind=3000"])
def test_date_filters_and_overdue_stay_live(users, params):
    user = users["national"]
    assert (
        tiles.precounted_tile_sql(user, parse_query("equipment", QueryDict(params)), 5, 25, 12)
        is None
    )
    overdue = parse_query("overdue", QueryDict(""))
    assert tiles.precounted_tile_sql(user, overdue, 5, 25, 12) is None
    detail = parse_query("equipment", QueryDict(""))
    assert tiles.precounted_tile_sql(user, detail, tiles.CLUSTER_BELOW_ZOOM, 0, 0) is None


def test_precounted_tiles_read_the_cell_index(fleet, users):
    query = parse_query("equipment", QueryDict("kind=3000"))
    centre = inside(XINGQING)
    for who in ("national", "city", "xingqing"):
        for z in (3, 8, 11):
            statement = tiles.precounted_tile_sql(users[who], query, z, *world_cell(centre, z))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + statement.text, statement.params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "equipmentcell_key" in plan, plan
            assert "registry_equipment" not in plan, plan


# --------------------------------------------------------------------------- counts in view


@pytest.mark.parametrize("who, params", CASES[::3])
def test_counts_in_a_box_from_cells_equal_live_counts(fleet, users, who, params):
    import random

    user = users[who]
    chooser = random.Random(f"{who}{params}")
    centre = inside(XINGQING)
    answered = 0
    for _ in range(8):
        half = chooser.choice([0.02, 0.08, 0.3, 1.0, 3.0])
        lon, lat = centre.x + chooser.uniform(-0.2, 0.2), centre.y + chooser.uniform(-0.2, 0.2)
        bbox = f"{lon - half},{lat - half * 0.7},{lon + half},{lat + half * 0.7}"
        query = parse_query("equipment", QueryDict(f"{params}&bbox={bbox}"), allow_bbox=True)
        fast = counts.count_features("equipment", user, query)
        live = counts.count_features("equipment", user, query, precounted=False)
        assert fast == live, bbox
        try:
            answered += counts.precounted_count_sql(user, query, today()) is not None
        except sources.NothingVisible:  # the region filter is outside the jurisdiction
            assert fast == 0
            answered += 1
    assert answered > 0  # the bigger boxes did come from the cells
    whole = parse_query("equipment", QueryDict(params))
    assert counts.count_features("equipment", user, whole) == (
        whole.apply(Equipment.objects.visible_to(user)).exclude(location=None, route=None).count()
    )
