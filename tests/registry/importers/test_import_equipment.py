"""The bulk equipment importer through run_import: a dry run that writes nothing, an all-or-nothing
commit, idempotent re-imports, and a report line for each rule the issue names."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import openpyxl
import prcoords
import pytest
import shapely
from pyogrio import raw

from accounts.models import AuditEntry
from geo import crs
from geo.models import Region
from registry.importers.intake import store_upload
from registry.importers.pipeline import ImportRequest, run_import
from registry.models import Equipment, LifecycleEvent, Unit
from registry.synthetic.codes import credit_code, device_code, registration_code
from tests.conftest import XINGQING, XIXIA, inside
from tests.registry.importers.conftest import zip_bytes

HEADER = [
    "设备代码",
    "注册代码",
    "设备品种代码",
    "经度",
    "纬度",
    "行政区划代码",
    "设备使用地点",
    "使用单位名称",
    "使用单位统一社会信用代码",
    "投入使用日期",
]


def device_row(serial: int, county: str = XINGQING, **changes) -> dict:
    point = inside(county)
    row = {
        "设备代码": device_code("3110", "T1234", 2020, serial),
        "注册代码": "",
        "设备品种代码": "3110",
        "经度": f"{point.x:.7f}",
        "纬度": f"{point.y:.7f}",
        "行政区划代码": county,
        "设备使用地点": f"测试路{serial}号",
        "使用单位名称": "银川测试物业公司",
        "使用单位统一社会信用代码": credit_code(county, 4_000_000),
        "投入使用日期": "2021-05-06",
    }
    row.update(changes)
    return row


def csv_bytes(rows: list[dict], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(
    data: bytes, user, *, commit: bool, name="设备.csv", source_crs=crs.CRS.WGS84, mapping=None
):
    upload = store_upload(data, name)
    mapping = mapping or {
        "device_code": "设备代码",
        "registration_code": "注册代码",
        "variety": "设备品种代码",
        "lon": "经度",
        "lat": "纬度",
        "division_code": "行政区划代码",
        "address": "设备使用地点",
        "use_unit_name": "使用单位名称",
        "use_unit_credit_code": "使用单位统一社会信用代码",
        "commissioned_on": "投入使用日期",
    }
    request = ImportRequest("equipment", mapping, source_crs)
    return run_import(upload, request, acting_user=user, commit=commit)


def rules(outcome) -> set[tuple[int, str, str]]:
    return {(item.row, item.column, item.rule) for item in outcome.findings}


@pytest.mark.django_db
def test_dry_run_reports_what_a_commit_would_do_and_writes_nothing(users):
    data = csv_bytes([device_row(n) for n in range(1, 4)])
    outcome = run(data, users["xingqing"], commit=False)
    assert (outcome.rows, outcome.errors, outcome.new, outcome.units_new) == (3, 0, 3, 1)
    assert not outcome.committed
    assert not Equipment.objects.exists() and not Unit.objects.exists()


@pytest.mark.django_db
def test_commit_places_registers_audits_and_reimport_changes_nothing(users):
    rows = [device_row(n) for n in range(1, 4)]
    outcome = run(csv_bytes(rows), users["xingqing"], commit=True)
    assert outcome.committed and outcome.headline() == "3 new, 0 changed, 0 unchanged"
    devices = Equipment.objects.order_by("device_code")
    assert [d.device_code for d in devices] == [r["设备代码"] for r in rows]
    assert {d.region_id for d in devices} == {XINGQING}
    assert all(Region.locate(d.location).code == XINGQING for d in devices)
    assert devices[0].next_inspection_due == dt.date(
        2022, 5, 6
    )  # elevators: yearly, from commissioning
    unit = Unit.objects.get()
    assert (unit.name, unit.credit_code, unit.roles) == (
        "银川测试物业公司",
        credit_code(XINGQING, 4_000_000),
        ["use"],
    )
    assert {d.use_unit_id for d in devices} == {unit.pk}
    assert LifecycleEvent.objects.filter(kind="registration").count() == 3
    assert (
        AuditEntry.objects.filter(action="equipment.imported", actor=users["xingqing"]).count() == 3
    )

    again = run(csv_bytes(rows), users["xingqing"], commit=True)
    assert again.headline() == "0 new, 0 changed, 3 unchanged"
    assert Equipment.objects.count() == 3 and Unit.objects.count() == 1

    rows[1]["设备使用地点"] = "新地址88号"
    later = run(csv_bytes(rows), users["xingqing"], commit=True)
    assert later.headline() == "0 new, 1 changed, 2 unchanged"
    changed = Equipment.objects.get(device_code=rows[1]["设备代码"])
    assert changed.address == "新地址88号"
    entry = AuditEntry.objects.get(action="equipment.updated", object_pk=str(changed.pk))
    assert entry.before["address"] == "测试路2号" and entry.after["address"] == "新地址88号"


@pytest.mark.django_db
def test_one_bad_row_near_the_end_commits_nothing(users):
    rows = [device_row(n) for n in range(1, 201)]
    rows[198]["设备品种代码"] = "9999"
    outcome = run(csv_bytes(rows), users["xingqing"], commit=True)
    assert not outcome.committed
    assert (200, "设备品种代码", "catalogue.unknown") in rules(outcome)
    assert outcome.errors == 1
    assert not Equipment.objects.exists() and not Unit.objects.exists()
    assert not LifecycleEvent.objects.exists()


@pytest.mark.django_db
def test_gcj02_coordinates_are_converted_to_wgs84(users):
    point = inside(XINGQING)
    gcj_lat, gcj_lon = prcoords.wgs_gcj((point.y, point.x))
    row = device_row(1, **{"经度": repr(gcj_lon), "纬度": repr(gcj_lat)})
    outcome = run(csv_bytes([row]), users["xingqing"], commit=True, source_crs=crs.CRS.GCJ02)
    assert outcome.committed
    stored = Equipment.objects.get()
    expected_lat, expected_lon = prcoords.gcj_wgs_bored((gcj_lat, gcj_lon))
    assert stored.location.x == pytest.approx(expected_lon, abs=1e-7)
    assert stored.location.y == pytest.approx(expected_lat, abs=1e-7)
    assert stored.location.distance(point) < 1e-6  # back where it was (≈ 0.1 m)
    assert stored.source_crs == "gcj02"


@pytest.mark.django_db
def test_gbk_shapefile_attributes_and_geometry(users, tmp_path):
    points = [inside(XINGQING), inside(XIXIA)]
    path = tmp_path / "shp" / "devices.shp"
    path.parent.mkdir()
    codes = [device_code("3110", "T1234", 2020, n) for n in (1, 2)]
    raw.write(
        str(path),
        geometry=shapely.to_wkb([shapely.Point(p.x, p.y) for p in points]),
        field_data=[
            np.array(codes, dtype=object),
            np.array(["3110", "3110"], dtype=object),
            np.array(["兴庆物业", "西夏物业"], dtype=object),
        ],
        fields=["设备代码", "品种代码", "使用单位"],
        driver="ESRI Shapefile",
        geometry_type="Point",
        crs="EPSG:4490",
        encoding="GBK",
    )
    assert b"\xc9\xe8\xb1\xb8" in path.with_suffix(".dbf").read_bytes()  # 设备 in GBK
    data = zip_bytes({p.name: p for p in path.parent.iterdir()})
    mapping = {"device_code": "设备代码", "variety": "品种代码", "use_unit_name": "使用单位"}
    outcome = run(
        data, users["city"], commit=True, name="设备.zip", mapping=mapping, source_crs="cgcs2000"
    )
    assert outcome.committed, outcome.findings
    placed = dict(Equipment.objects.values_list("device_code", "region_id"))
    assert placed == {codes[0]: XINGQING, codes[1]: XIXIA}
    assert set(Unit.objects.values_list("name", "region_id")) == {
        ("兴庆物业", XINGQING),
        ("西夏物业", XIXIA),
    }


@pytest.mark.django_db
def test_each_rule_reports_row_column_value_and_suggestion(users, make_equipment):
    elsewhere = make_equipment(XIXIA)
    good = device_row(1)
    bad_credit = credit_code(XINGQING, 5)[:-1] + (
        "0" if credit_code(XINGQING, 5)[-1] != "0" else "1"
    )
    rows = [
        good,
        dict(device_row(2), **{"经度": good["纬度"], "纬度": good["经度"]}),
        dict(device_row(3), **{"经度": "2.35", "纬度": "48.85"}),
        dict(device_row(4), **{"行政区划代码": XIXIA}),
        dict(device_row(5), **{"使用单位统一社会信用代码": bad_credit}),
        dict(device_row(6), **{"设备代码": good["设备代码"]}),
        dict(device_row(7), **{"设备代码": elsewhere.device_code}),
        dict(device_row(8), **{"设备品种代码": "5220", "设备代码": ""}),
        dict(device_row(9, county=XIXIA)),
        dict(device_row(10), **{"投入使用日期": "2021-02-30"}),
        dict(device_row(11), **{"设备代码": "", "注册代码": ""}),
    ]
    rows[7]["注册代码"] = registration_code("5220", XINGQING, dt.date(2015, 3, 1), 8)
    outcome = run(csv_bytes(rows, "gbk"), users["xingqing"], commit=True)
    assert not outcome.committed
    found = {(item.row, item.rule): item for item in outcome.findings}
    swapped = found[(3, "location.swapped")]
    assert swapped.suggestion == f"lon={good['经度']}, lat={good['纬度']}"
    assert (4, "location.outside_china") in found
    mismatch = found[(5, "region.mismatch")]
    assert (mismatch.column, mismatch.value, mismatch.suggestion) == (
        "行政区划代码",
        XIXIA,
        XINGQING,
    )
    assert mismatch.severity == "warning"
    assert found[(6, "credit_code.check_char")].column == "使用单位统一社会信用代码"
    assert found[(7, "device_code.duplicate_in_file")].suggestion.startswith("删除重复行")
    assert (8, "device_code.duplicate") in found
    retired = found[(9, "catalogue.retired")]
    assert (retired.column, retired.severity, retired.suggestion) == (
        "设备品种代码",
        "warning",
        "5200",
    )
    assert (10, "jurisdiction") in found
    assert found[(11, "cell.date")].value == "2021-02-30"
    assert (12, "device_code.required") in found
    assert not Equipment.objects.exclude(pk=elsewhere.pk).exists()


@pytest.mark.django_db
def test_excel_number_codes_and_near_duplicates(users):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    first = device_row(1, **{"设备代码": ""})
    first["注册代码"] = registration_code("3110", XINGQING, dt.date(2015, 3, 1), 1)
    twin = dict(first, **{"注册代码": ""})
    twin["注册代码"] = registration_code("3110", XINGQING, dt.date(2015, 3, 1), 2)
    sheet.append(list(first.values()))
    sheet.append(list(twin.values()))
    # A 19-character code a registration authority assigned is all digits: Excel keeps 15 of them.
    numeric = device_row(3, **{"设备代码": f"3110{XINGQING}202000003"})
    sheet.append([float(numeric["设备代码"]), *list(numeric.values())[1:]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome = run(buffer.getvalue(), users["xingqing"], commit=False, name="设备.xlsx")
    found = {(item.row, item.rule): item for item in outcome.findings}
    assert found[(3, "duplicate.near_in_file")].suggestion == "2"
    assert (4, "cell.number_code") in found


@pytest.mark.django_db
def test_blank_cells_keep_stored_values_and_status_changes_follow_the_rules(users):
    header = [*HEADER, "设备状态", "下次检验日期"]
    mapping = {
        "device_code": "设备代码",
        "variety": "设备品种代码",
        "lon": "经度",
        "lat": "纬度",
        "use_unit_name": "使用单位名称",
        "commissioned_on": "投入使用日期",
        "status": "设备状态",
        "next_inspection_due": "下次检验日期",
        "address": "设备使用地点",
    }

    def file(rows):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode()

    rows = [device_row(n, **{"设备状态": "", "下次检验日期": ""}) for n in (1, 2)]
    assert run(file(rows), users["xingqing"], commit=True, mapping=mapping).committed
    device = Equipment.objects.get(device_code=rows[0]["设备代码"])
    assert (device.status, device.next_inspection_due) == ("in_use", dt.date(2022, 5, 6))

    blanked = [dict(row, **{"设备使用地点": ""}) for row in rows]
    again = run(file(blanked), users["xingqing"], commit=True, mapping=mapping)
    assert again.headline() == "0 new, 0 changed, 2 unchanged"

    rows[0]["设备状态"] = "停用"
    suspended = run(file(rows), users["xingqing"], commit=True, mapping=mapping)
    assert suspended.headline() == "0 new, 1 changed, 1 unchanged"
    device.refresh_from_db()
    assert device.status == "suspended"
    assert device.events.filter(kind="suspension").count() == 1

    rows[0]["设备状态"] = "注销"
    assert run(file(rows), users["xingqing"], commit=True, mapping=mapping).committed
    rows[0]["设备状态"] = "在用"
    refused = run(file(rows), users["xingqing"], commit=True, mapping=mapping)
    assert not refused.committed
    assert {(f.row, f.rule, f.suggestion) for f in refused.findings} == {
        (2, "status.transition", "cancelled")
    }
