"""Issue 17 in the equipment importer: two commits of one file write one set of rows; a code another
device holds is "already registered" naming the field and nothing of that device; the in-file
near-duplicate check is linear and finds what a brute-force walk finds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import threading

import numpy as np
import pytest
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import connection, connections, transaction
from pyproj import Geod

from geo.models import Region
from registry import catalogue, services
from registry.importers.equipment.staging import (
    NEAR_IN_FILE,
    NEAR_METRES,
    NEAR_PLACES,
    STAGE,
    create_stage,
)
from registry.importers.intake import store_upload
from registry.importers.pipeline import ImportRequest, run_import
from registry.models import Equipment, LifecycleEvent, Unit
from registry.synthetic.codes import certificate_number, registration_code
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions
from tests.registry.importers.equipment_rows import HEADER, MAPPING, device_row

JINFENG = "640106"  # Xingqing's neighbour in Yinchuan
EXTRA = {"certificate_number": "使用登记证编号", "rescue_id": "96333救援识别码"}
GEOD = Geod(ellps="WGS84")


def file_of(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*HEADER, *EXTRA.values()], restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def request() -> ImportRequest:
    return ImportRequest("equipment", {**MAPPING, **EXTRA}, "wgs84")


def run(rows: list[dict], user, *, commit: bool, progress=None):
    upload = store_upload(file_of(rows), "设备.csv")
    return run_import(upload, request(), acting_user=user, commit=commit, progress=progress)


def certificate(serial: int) -> str:
    return certificate_number(
        catalogue.certificate_kind_char("3110"), "3110", "宁", "A", serial, 20
    )


def everything_said(outcome) -> str:
    """The report less the cells the file gave (a registration code holds its county's code)."""
    return json.dumps(
        [(f.column, f.rule, f.message, f.suggestion) for f in outcome.findings],
        ensure_ascii=False,
    )


# --- two commits of one file ----------------------------------------------------------------------


@pytest.fixture
def regions_after_flush(transactional_db):
    load_test_regions()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_commits_of_one_file_write_one_set_of_rows(regions_after_flush, users):
    """Both commits have read and staged the whole file, in their own transactions, before either
    matches it against the registry: the barrier sits in the progress report after the last row."""
    rows = [device_row(n) for n in range(1, 31)]
    upload = store_upload(file_of(rows), "设备.csv")
    both_staged = threading.Barrier(2)
    outcomes: list = []
    failures: list = []

    def commit():
        try:
            outcomes.append(
                run_import(
                    upload,
                    request(),
                    acting_user=users["xingqing"],
                    commit=True,
                    progress=lambda done, total: both_staged.wait(30),
                )
            )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=commit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == [] and len(outcomes) == 2
    assert all(outcome.committed for outcome in outcomes), [o.findings for o in outcomes]
    assert sorted(outcome.headline() for outcome in outcomes) == [
        "0 new, 0 changed, 30 unchanged",
        "30 new, 0 changed, 0 unchanged",
    ]
    assert Equipment.objects.count() == 30
    assert LifecycleEvent.objects.filter(kind="registration").count() == 30
    assert Unit.objects.count() == 1


def waiting_for_a_lock(pid_of_holder: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [pid_of_holder],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_code_registered_while_the_commit_runs_is_reported_on_its_row(regions_after_flush, users):
    """A registration the commit could not see when it matched (not committed yet) meets the
    commit's insert at the unique index: the row is reported, nothing is written, no 500."""
    rows = [device_row(n) for n in range(1, 4)]
    outcome: dict = {}

    def commit():
        try:
            outcome["import"] = run(rows, users["xingqing"], commit=True)
        finally:
            connections.close_all()

    with transaction.atomic():
        unit = services.register_unit(
            acting_user=None, name="别的公司", roles=["use"], location=inside(XINGQING)
        )
        services.register_equipment(
            acting_user=None,
            variety_code="3110",
            use_unit=unit,
            location=inside(XINGQING),
            device_code=rows[1]["设备代码"],
        )
        holder = connection.connection.info.backend_pid
        thread = threading.Thread(target=commit)
        thread.start()
        for _ in range(2000):
            if waiting_for_a_lock(holder):
                break
            thread.join(0.025)
        assert waiting_for_a_lock(holder), "the commit did not meet the registration's code"
    thread.join(60)
    result = outcome["import"]
    assert not result.committed
    assert [(f.row, f.column, f.rule) for f in result.findings if f.severity == "error"] == [
        (3, "设备代码", "device_code.duplicate")
    ]
    assert Equipment.objects.count() == 1


# --- codes another device holds -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["device_code", "registration_code"])
def test_a_row_naming_another_countys_device_says_already_registered_and_nothing_else(
    users, make_equipment, by
):
    # A legacy device: its codes were given under 3110, its variety is now 3120.
    foreign = make_equipment(
        XIXIA,
        variety_code="3120",
        device_code="3110T1234202000001",
        registration_code=registration_code("3110", XIXIA, dt.date(2015, 3, 1), 7),
    )
    row = device_row(1, **{"设备品种代码": "3110", "设备状态": "报废"})
    if by == "device_code":
        row["设备代码"] = foreign.device_code
    else:
        row["设备代码"], row["注册代码"] = "", foreign.registration_code
    outcome = run([row], users["xingqing"], commit=True)
    assert not outcome.committed and (outcome.new, outcome.changed) == (0, 0)
    column = {"device_code": "设备代码", "registration_code": "注册代码"}[by]
    label = {"device_code": "设备代码", "registration_code": "注册代码"}[by]
    assert [(f.row, f.column, f.rule, f.message) for f in outcome.findings] == [
        (2, column, f"{by}.duplicate", f"{label}已登记 / {by.replace('_', ' ')} already registered")
    ]
    said = everything_said(outcome)
    for attribute in ("3120", XIXIA, foreign.use_unit.name, foreign.status, "辖区之外"):
        assert attribute not in said
    assert Equipment.objects.get().variety_id == "3120"


@pytest.mark.django_db
def test_a_certificate_number_or_rescue_id_another_device_holds_is_refused(users, make_equipment):
    foreign = make_equipment(XIXIA, certificate_number=certificate(5), rescue_id="654321")
    rows = [
        device_row(101, **{EXTRA["certificate_number"]: foreign.certificate_number}),
        device_row(102, **{EXTRA["rescue_id"]: foreign.rescue_id}),  # Xingqing, Xixia: one city
        device_row(103, **{EXTRA["certificate_number"]: certificate(6)}),
    ]
    outcome = run(rows, users["xingqing"], commit=True)
    assert not outcome.committed
    assert [(f.row, f.column, f.rule) for f in outcome.findings] == [
        (2, "使用登记证编号", "certificate_number.duplicate"),
        (3, "96333救援识别码", "rescue_id.duplicate"),
    ]
    assert XIXIA not in everything_said(outcome)


@pytest.mark.django_db
def test_codes_twice_in_a_file_are_reported_on_the_later_row(users):
    rows = [
        device_row(
            1, **{EXTRA["certificate_number"]: certificate(8), EXTRA["rescue_id"]: "111111"}
        ),
        device_row(
            2, **{EXTRA["certificate_number"]: certificate(8), EXTRA["rescue_id"]: "111111"}
        ),
    ]
    outcome = run(rows, users["xingqing"], commit=False)
    found = {(f.row, f.rule): f for f in outcome.findings}
    assert set(found) == {
        (3, "certificate_number.duplicate_in_file"),
        (3, "rescue_id.duplicate_in_file"),
    }
    assert found[(3, "rescue_id.duplicate_in_file")].suggestion == "2"


@pytest.mark.django_db
def test_a_re_import_of_a_devices_own_codes_is_no_conflict(users):
    rows = [
        device_row(1, **{EXTRA["certificate_number"]: certificate(9), EXTRA["rescue_id"]: "222222"})
    ]
    assert run(rows, users["xingqing"], commit=True).committed
    again = run(rows, users["xingqing"], commit=True)
    assert again.committed and again.headline() == "0 new, 0 changed, 1 unchanged"


# --- near duplicates within the file ---------------------------------------------------------------


def brute_force_near(rows: list[dict]) -> dict[int, str]:
    """Every pair of rows, by geodesic distance: the earliest earlier row each row repeats."""
    found = {}
    for a, row in enumerate(rows):
        for b, earlier in enumerate(rows[:a]):
            same_key = all(
                row[k] == earlier[k]
                for k in (
                    "设备品种代码",
                    "设备使用地点",
                    "使用单位名称",
                    "使用单位统一社会信用代码",
                )
            )
            if not same_key or (row["设备代码"] and earlier["设备代码"]):
                continue
            _, _, metres = GEOD.inv(
                float(row["经度"]),
                float(row["纬度"]),
                float(earlier["经度"]),
                float(earlier["纬度"]),
            )
            if metres <= NEAR_METRES:
                found[a + 2] = str(b + 2)  # the header is row 1
                break
    return found


@pytest.mark.django_db
def test_near_duplicates_in_the_file_are_the_ones_a_brute_force_walk_finds(users):
    draw = np.random.default_rng(17)
    origin = inside(XINGQING)
    rows = []
    for serial in range(1, 121):
        if rows and draw.random() < 0.15:  # some rows repeat an earlier row's point exactly
            earlier = rows[int(draw.integers(len(rows)))]
            lon, lat = earlier["经度"], earlier["纬度"]
        else:
            while True:  # nothing within 5 cm of the 5 m edge, so rounding decides nothing
                x, y = GEOD.fwd(origin.x, origin.y, draw.uniform(0, 360), draw.uniform(0, 14))[:2]
                lon, lat = f"{x:.7f}", f"{y:.7f}"
                distances = [
                    GEOD.inv(float(lon), float(lat), float(r["经度"]), float(r["纬度"]))[2]
                    for r in rows
                ]
                if not any(abs(d - NEAR_METRES) < 0.05 for d in distances):
                    break
        coded = draw.random() < 0.5
        row = device_row(
            serial,
            **{
                "经度": lon,
                "纬度": lat,
                "设备使用地点": ["测试路1号", "测试路2号"][int(draw.integers(2))],
                "使用单位名称": ["甲物业", "乙物业"][int(draw.integers(2))],
                "使用单位统一社会信用代码": "",
            },
        )
        if not coded:
            row["设备代码"] = ""
            row["注册代码"] = registration_code("3110", XINGQING, dt.date(2015, 3, 1), serial)
        rows.append(row)
    expected = brute_force_near(rows)
    assert len(expected) > 20  # the draw has something to find
    outcome = run(rows, users["xingqing"], commit=False)
    found = {f.row: f.suggestion for f in outcome.findings if f.rule == "duplicate.near_in_file"}
    assert found == expected


def plan_rows(plan: dict) -> list[float]:
    """Rows each node of an EXPLAIN ANALYZE plan produced, over all its loops."""
    own = [plan["Actual Rows"] * plan["Actual Loops"]]
    return own + list(itertools.chain.from_iterable(plan_rows(p) for p in plan.get("Plans", [])))


@pytest.mark.django_db
def test_the_near_duplicate_check_does_work_linear_in_the_rows():
    """Three thousand rows of one unit at one point (a ledger geocoded to the building): a pairwise
    self-join makes 4.5 million pairs; grouping makes a few rows per row."""
    n = 3000
    point = inside(XINGQING)
    with connection.cursor() as cursor:
        create_stage(cursor)
        cursor.execute(
            f"""INSERT INTO {STAGE} (row, device_code, variety_id, address, use_unit_name,
                                     use_unit_credit_code, location)
                SELECT r, '', '3110', '测试路1号', '甲物业', '', ST_SetSRID(ST_MakePoint(%s, %s), 4326)
                FROM generate_series(1, %s) r""",
            [point.x, point.y, n],
        )
        cursor.execute(f"ANALYZE {STAGE}")
        produced = []
        for statement in (*NEAR_PLACES, NEAR_IN_FILE):
            if statement.lstrip().startswith(("CREATE TEMP TABLE", "SELECT")):
                # EXPLAIN ANALYZE runs the statement: a CREATE TABLE AS leaves its table.
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}")
                produced += plan_rows(cursor.fetchone()[0][0]["Plan"])
            else:
                cursor.execute(statement)
        cursor.execute(NEAR_IN_FILE)
        reported = cursor.fetchall()
    assert max(produced) <= 10 * n
    assert len(reported) == n - 1 and {first for _, _, first in reported} == {"1"}


def across_the_border() -> tuple[Point, Point]:
    """Two points 3 m apart, one in Xingqing and one in its neighbour Jinfeng, away from any
    third county."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT ST_AsText(d.geom) FROM geo_region a, geo_region b,
                      ST_DumpPoints(ST_Boundary(a.boundary)) d
               WHERE a.code = %s AND b.code = %s
                 AND ST_DWithin(d.geom::geography, b.boundary::geography, 0.5)
                 AND NOT EXISTS (
                     SELECT FROM geo_region c WHERE c.level = 'county' AND c.code NOT IN (%s, %s)
                        AND ST_DWithin(c.boundary::geography, d.geom::geography, 100))""",
            [XINGQING, JINFENG, XINGQING, JINFENG],
        )
        borders = [GEOSGeometry(wkt, srid=4326) for (wkt,) in cursor.fetchall()[:20]]
    for border in borders:
        for azimuth in range(0, 180, 15):
            ends = [GEOD.fwd(border.x, border.y, azimuth + turn, 1.5)[:2] for turn in (0, 180)]
            points = [Point(x, y, srid=4326) for x, y in ends]
            found = [getattr(Region.locate(p), "code", None) for p in points]
            if sorted(found) == [XINGQING, JINFENG]:
                return tuple(sorted(points, key=lambda p: found[points.index(p)]))
    raise AssertionError("no crossing found")


@pytest.mark.django_db
def test_a_near_registered_device_is_suggested_only_when_the_user_may_see_it(
    users, make_unit, make_equipment
):
    here, there = across_the_border()
    unit = make_unit(JINFENG)
    theirs = make_equipment(JINFENG, use_unit=unit, location=there, address="边界路1号")
    row = device_row(
        1,
        **{
            "设备代码": "",
            "注册代码": registration_code("3110", XINGQING, dt.date(2015, 3, 1), 1),
            "经度": f"{here.x:.7f}",
            "纬度": f"{here.y:.7f}",
            "设备使用地点": "边界路1号",
            "使用单位名称": unit.name,
            "使用单位统一社会信用代码": unit.credit_code,
        },
    )
    near = {
        user: [(f.row, f.suggestion) for f in run([row], users[user], commit=False).findings
               if f.rule == "duplicate.near"]
        for user in ("xingqing", "city")
    }  # fmt: skip
    assert near == {"xingqing": [], "city": [(2, theirs.device_code)]}
