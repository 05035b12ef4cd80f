"""Record importers: units, personnel, inspections and accidents from real-format files, through
run_import — all or nothing, idempotent on re-import, changes audited, jurisdiction enforced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import prcoords
import pytest

from accounts.models import AuditEntry
from geo import crs
from registry import personal
from registry.importers.records import moment
from registry.models import Accident, Certificate, Inspection, Person, Unit
from registry.models.exchange import ChangeEntry
from registry.models.imports import Dataset
from registry.synthetic.codes import credit_code, national_id
from tests.conftest import XINGQING, XIXIA, inside
from tests.registry.importers.record_files import csv_bytes, geojson_bytes, lines, run, xlsx_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The GB 32100 standard's own example code, and the same code with a wrong check character.
GOOD_CODE, BAD_CODE = "91350100M000100Y43", "91350100M000100Y4X"

UNIT_HEADER = [
    "统一社会信用代码",
    "单位名称",
    "单位类别",
    "单位地址",
    "经度",
    "纬度",
    "行政区划代码",
    "联系电话",
]


def unit_rows():
    xq, xx = inside(XINGQING), inside(XIXIA)
    return [
        [credit_code(XINGQING, 11), "兴庆电梯使用单位", "使用单位", "解放西街1号", xq.x, xq.y, XINGQING, "0951-1111111"],
        [credit_code(XIXIA, 12), "西夏维保公司", "维保单位、使用单位", "贺兰山路2号", xx.x, xx.y, XIXIA, "0951-2222222"],
        ["", "兴庆锅炉房", "use", "", xq.x, xq.y, "", ""],
    ]  # fmt: skip


def import_units(user, rows=None, *, encoding="gbk", commit=True):
    data = csv_bytes(UNIT_HEADER, unit_rows() if rows is None else rows, encoding)
    return run(data, "单位.csv", Dataset.UNITS, user, commit=commit)


# --- units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_units_from_csv_are_registered_in_their_counties(users, encoding):
    outcome = import_units(users["province"], encoding=encoding)
    assert outcome.findings == [] and outcome.committed
    assert outcome.headline() == "3 new, 0 changed, 0 unchanged"
    units = {u.name: u for u in Unit.objects.all()}
    assert {name: u.region_id for name, u in units.items()} == {
        "兴庆电梯使用单位": XINGQING,
        "西夏维保公司": XIXIA,
        "兴庆锅炉房": XINGQING,
    }
    assert units["西夏维保公司"].roles == ["maintenance", "use"]
    assert units["兴庆锅炉房"].credit_code is None
    assert units["兴庆电梯使用单位"].location.equals_exact(inside(XINGQING), 1e-9)
    assert ChangeEntry.objects.filter(model="unit", operation="create").count() == 3


def test_reimporting_the_same_file_changes_nothing(users):
    import_units(users["province"])
    log, audits = ChangeEntry.objects.count(), AuditEntry.objects.count()
    outcome = import_units(users["province"])
    assert outcome.headline() == "0 new, 0 changed, 3 unchanged"
    assert outcome.committed and outcome.findings == []
    assert (ChangeEntry.objects.count(), AuditEntry.objects.count()) == (log, audits)
    assert Unit.objects.count() == 3


def test_a_changed_row_is_updated_with_before_and_after_in_the_audit(users):
    import_units(users["province"])
    rows = unit_rows()
    rows[1][7] = "0951-3333333"
    outcome = import_units(users["province"], rows)
    assert outcome.headline() == "0 new, 1 changed, 2 unchanged"
    unit = Unit.objects.get(name="西夏维保公司")
    assert unit.contact_phone == "0951-3333333"
    entry = AuditEntry.objects.get(action="unit.updated")
    assert (entry.object_pk, entry.actor) == (str(unit.pk), users["province"])
    # The trail keeps personal fields masked (accounts.audit): it shows that the phone changed.
    assert entry.before["contact_phone"] == "095****2222"
    assert entry.after["contact_phone"] == "095****3333"
    assert ChangeEntry.objects.filter(model="unit", operation="update").count() == 1


def test_a_blank_cell_leaves_the_stored_value(users):
    import_units(users["province"])
    rows = unit_rows()
    rows[0][3] = ""
    assert import_units(users["province"], rows).headline() == "0 new, 0 changed, 3 unchanged"
    assert Unit.objects.get(name="兴庆电梯使用单位").address == "解放西街1号"


def test_a_bad_row_near_the_end_commits_nothing(users):
    rows = unit_rows() + [
        [credit_code(XINGQING, 20 + n), f"兴庆单位{n}", "使用单位", "", "", "", XINGQING, ""]
        for n in range(5)
    ]
    rows.append([BAD_CODE, "坏代码单位", "使用单位", "", "", "", XINGQING, ""])
    outcome = import_units(users["province"], rows)
    assert not outcome.committed
    assert lines(outcome) == [(10, "统一社会信用代码", "credit_code.check_char", "error")]
    assert outcome.findings[0].value == BAD_CODE
    assert outcome.findings[0].suggestion == GOOD_CODE
    assert Unit.objects.count() == 0 and ChangeEntry.objects.count() == 0


def test_a_dry_run_reports_what_the_commit_would_do_and_writes_nothing(users):
    outcome = import_units(users["province"], commit=False)
    assert outcome.headline() == "3 new, 0 changed, 0 unchanged" and not outcome.committed
    assert Unit.objects.count() == 0


def test_a_county_user_cannot_import_another_countys_unit(users):
    outcome = import_units(users["xingqing"])
    assert lines(outcome) == [(3, "行政区划代码", "jurisdiction", "error")]
    assert Unit.objects.count() == 0


def test_a_county_user_cannot_update_another_countys_unit_by_its_code(users):
    import_units(users["province"])
    rows = unit_rows()[1:2]
    xq = inside(XINGQING)
    rows[0][4:7] = [xq.x, xq.y, XINGQING]  # moved into Xingqing: still Xixia's unit
    outcome = import_units(users["xingqing"], rows)
    # "Already registered", naming the field: not where the other unit is.
    assert lines(outcome) == [(2, "统一社会信用代码", "credit_code.duplicate", "error")]
    assert XIXIA not in outcome.findings[0].message
    assert Unit.objects.get(name="西夏维保公司").region_id == XIXIA


def test_the_same_unit_twice_in_a_file_is_reported(users):
    rows = unit_rows()
    rows.append(list(rows[0]))
    outcome = import_units(users["province"], rows)
    assert lines(outcome) == [(5, "统一社会信用代码", "duplicate.in_file", "error")]
    assert "2" in outcome.findings[0].message


def test_swapped_coordinates_are_refused_with_the_fix(users):
    xq = inside(XINGQING)
    rows = [[credit_code(XINGQING, 30), "颠倒单位", "使用单位", "", xq.y, xq.x, "", ""]]
    outcome = import_units(users["province"], rows)
    assert lines(outcome) == [(2, "经度", "location.swapped", "error")]
    assert outcome.findings[0].suggestion == f"lon={xq.x}, lat={xq.y}"


def test_a_division_code_other_than_the_located_county_is_a_warning(users):
    xq = inside(XINGQING)
    rows = [[credit_code(XINGQING, 31), "申报错区单位", "使用单位", "", xq.x, xq.y, XIXIA, ""]]
    outcome = import_units(users["province"], rows)
    assert lines(outcome) == [(2, "行政区划代码", "region.mismatch", "warning")]
    assert outcome.findings[0].suggestion == XINGQING
    assert outcome.committed and Unit.objects.get().region_id == XINGQING


def test_an_unknown_role_names_the_choices(users):
    rows = unit_rows()[:1]
    rows[0][2] = "食堂"
    outcome = import_units(users["province"], rows)
    assert lines(outcome) == [(2, "单位类别", "roles.unknown", "error")]
    assert "使用单位(use)" in outcome.findings[0].suggestion


def test_a_second_code_for_a_unit_of_the_same_name_is_a_warning(users):
    import_units(users["province"])
    rows = unit_rows()[:1]
    rows[0][0] = credit_code(XINGQING, 99)
    outcome = import_units(users["province"], rows)
    assert lines(outcome) == [(2, "统一社会信用代码", "unit.namesake", "warning")]
    assert outcome.findings[0].suggestion == credit_code(XINGQING, 11)
    assert outcome.headline() == "1 new, 0 changed, 0 unchanged"


def test_units_in_a_gcj02_geojson_with_heights_are_stored_in_wgs84(users):
    wgs = inside(XIXIA)
    gcj = prcoords.wgs_gcj(prcoords.Coords(wgs.y, wgs.x))
    properties = {
        "单位名称": "西夏高处单位",
        "信用代码": credit_code(XIXIA, 40),
        "单位类别": "使用",
    }
    data = geojson_bytes([(gcj.lon, gcj.lat, 1120.5, properties)])
    outcome = run(data, "单位.geojson", Dataset.UNITS, users["province"], source_crs=crs.CRS.GCJ02)
    assert outcome.findings == [] and outcome.new == 1
    unit = Unit.objects.get()
    back = prcoords.gcj_wgs_bored(gcj)
    assert not unit.location.hasz and unit.region_id == XIXIA
    assert (unit.location.x, unit.location.y) == (
        pytest.approx(back.lon, abs=1e-7), pytest.approx(back.lat, abs=1e-7),
    )  # fmt: skip


def test_progress_is_reported_with_the_rows_read(users):
    calls = []
    upload_rows = csv_bytes(UNIT_HEADER, unit_rows(), "gbk")
    from registry.importers.intake import store_upload
    from registry.importers.mapping import suggest_mapping
    from registry.importers.pipeline import ImportRequest, run_import

    request = ImportRequest(Dataset.UNITS, suggest_mapping(UNIT_HEADER, Dataset.UNITS))
    run_import(
        store_upload(upload_rows, "单位.csv"),
        request,
        acting_user=users["province"],
        commit=True,
        progress=lambda done, total: calls.append(done),
    )
    assert calls == [3]


# --- personnel ------------------------------------------------------------------------------------

PERSON_HEADER = ["姓名", "人员类别", "身份证号", "工作单位统一社会信用代码", "行政区划代码", "联系电话",
                 "证书类别", "证书编号", "作业项目代号", "发证日期", "有效期至", "发证机关"]  # fmt: skip


def person_rows(employer: Unit):
    return [
        ["张三", "作业人员", national_id(XINGQING, dt.date(1985, 4, 2), 11), employer.credit_code,
         XINGQING, "13900000001", "特种设备作业人员证", "T640104198504020011", "T",
         dt.datetime(2022, 3, 1), dt.datetime(2026, 2, 28), "银川市市场监督管理局"],
        ["李四", "安全管理人员", national_id(XINGQING, dt.date(1990, 7, 9), 22), employer.credit_code,
         XINGQING, "13900000002", "特种设备安全管理人员证", "A640104199007090022", "A",
         dt.datetime(2023, 1, 10), dt.datetime(2027, 1, 9), "银川市市场监督管理局"],
    ]  # fmt: skip


def import_persons(user, rows):
    return run(xlsx_bytes(PERSON_HEADER, rows), "人员.xlsx", Dataset.PERSONS, user)


def test_persons_from_xlsx_with_certificates_and_encrypted_ids(users, make_unit):
    employer = make_unit(XINGQING)
    rows = person_rows(employer)
    outcome = import_persons(users["province"], rows)
    assert outcome.findings == [] and outcome.headline() == "2 new, 0 changed, 0 unchanged"
    person = Person.objects.get(national_id_hash=personal.lookup_hash(rows[0][2]))
    assert (person.name, person.role, person.employer, person.region_id) == (
        "张三", "operator", employer, XINGQING,
    )  # fmt: skip
    assert personal.decrypt(person.national_id_encrypted) == rows[0][2]
    assert person.national_id_masked == rows[0][2][:6] + "********" + rows[0][2][-4:]
    certificate = person.certificates.get()
    assert (certificate.number, certificate.issued_on, certificate.expires_on) == (
        "T640104198504020011", dt.date(2022, 3, 1), dt.date(2026, 2, 28),
    )  # fmt: skip


def test_persons_reimported_unchanged_and_a_renewed_certificate_updated(users, make_unit):
    rows = person_rows(make_unit(XINGQING))
    import_persons(users["province"], rows)
    assert import_persons(users["province"], rows).headline() == "0 new, 0 changed, 2 unchanged"
    rows[1][10] = dt.datetime(2031, 1, 9)
    assert import_persons(users["province"], rows).headline() == "0 new, 1 changed, 1 unchanged"
    assert Certificate.objects.get(number="A640104199007090022").expires_on == dt.date(2031, 1, 9)
    entry = AuditEntry.objects.get(action="certificate.updated")
    assert (entry.before["expires_on"], entry.after["expires_on"]) == ("2027-01-09", "2031-01-09")
    assert Person.objects.count() == 2


def test_person_rows_with_unknown_role_and_repeated_id_are_reported(users, make_unit):
    rows = person_rows(make_unit(XINGQING))
    rows[0][1] = "厨师"
    rows.append(list(rows[1]))
    rows[2][7] = "A640104199007090099"
    outcome = import_persons(users["province"], rows)
    assert lines(outcome) == [
        (2, "人员类别", "role.unknown", "error"),
        (4, "身份证号", "duplicate.in_file", "error"),
    ]
    assert Person.objects.count() == 0


def test_a_county_user_cannot_import_another_countys_personnel(users, make_unit):
    outcome = import_persons(users["xixia"], person_rows(make_unit(XINGQING)))
    assert lines(outcome) == [
        (2, "行政区划代码", "jurisdiction", "error"),
        (3, "行政区划代码", "jurisdiction", "error"),
    ]
    assert Person.objects.count() == 0


def test_a_person_another_county_registered_is_already_registered_and_nothing_more(
    users, make_unit
):
    rows = person_rows(make_unit(XINGQING))
    import_persons(users["province"], rows)
    for row in rows:  # the same people, declared in Xixia by Xixia's user
        row[3], row[4] = "", XIXIA
    outcome = import_persons(users["xixia"], rows)
    assert lines(outcome) == [
        (2, "身份证号", "national_id.duplicate", "error"),
        (3, "身份证号", "national_id.duplicate", "error"),
    ]
    assert {f.message for f in outcome.findings} == {
        "身份证号已登记 / national ID already registered"
    }
    assert set(Person.objects.values_list("region_id", flat=True)) == {XINGQING}


def test_a_person_without_an_id_is_matched_by_name_employer_and_certificate(users, make_unit):
    rows = person_rows(make_unit(XINGQING))
    for row in rows:
        row[2] = ""
    import_persons(users["province"], rows)
    rows[0][5] = "13900000009"
    assert import_persons(users["province"], rows).headline() == "0 new, 1 changed, 1 unchanged"
    assert Person.objects.get(name="张三").phone == "13900000009"
    entry = AuditEntry.objects.get(action="person.updated")
    # The trail keeps personal fields masked (accounts.audit): it shows that the phone changed.
    assert (entry.before["phone"], entry.after["phone"]) == ("139****0001", "139****0009")
    assert "national_id_hash" not in entry.after


# --- inspections ----------------------------------------------------------------------------------

INSPECTION_HEADER = ["设备代码", "检验日期", "检验结论", "检验类别", "问题数", "报告编号"]


@pytest.fixture
def devices(make_equipment):
    return [make_equipment(XINGQING) for _ in range(3)]


def inspection_rows(devices):
    return [
        [devices[0].device_code, "2024-05-10", "合格", "定期检验", 0, "R2024-001"],
        [devices[1].device_code, "2024/6/1", "不合格", "定期检验", 3, "R2024-002"],
        [devices[2].device_code, "2024年6月2日", "基本符合要求", "periodic", 1, "R2024-003"],
    ]


def import_inspections(user, rows):
    data = csv_bytes(INSPECTION_HEADER, rows, "utf-8")
    return run(data, "检验.csv", Dataset.INSPECTIONS, user)


def test_inspections_from_csv_with_chinese_conclusions(users, devices):
    outcome = import_inspections(users["province"], inspection_rows(devices))
    assert outcome.findings == [] and outcome.headline() == "3 new, 0 changed, 0 unchanged"
    found = {
        i.equipment_id: (i.inspected_on, i.conclusion, i.defects, i.report_number)
        for i in Inspection.objects.all()
    }
    assert found == {
        devices[0].pk: (dt.date(2024, 5, 10), "pass", 0, "R2024-001"),
        devices[1].pk: (dt.date(2024, 6, 1), "fail", 3, "R2024-002"),
        devices[2].pk: (dt.date(2024, 6, 2), "conditional", 1, "R2024-003"),
    }


def test_inspections_reimported_unchanged_and_a_corrected_conclusion_audited(users, devices):
    rows = inspection_rows(devices)
    import_inspections(users["province"], rows)
    assert import_inspections(users["province"], rows).headline() == "0 new, 0 changed, 3 unchanged"
    rows[0][2] = "不合格"
    assert import_inspections(users["province"], rows).headline() == "0 new, 1 changed, 2 unchanged"
    entry = AuditEntry.objects.get(action="inspection.corrected")
    assert (entry.before["conclusion"], entry.after["conclusion"]) == ("pass", "fail")
    assert Inspection.objects.get(report_number="R2024-001").conclusion == "fail"


def test_an_inspection_of_an_unknown_device_names_the_code(users, devices):
    rows = inspection_rows(devices)
    rows[2][0] = "3110T9999202099999"
    outcome = import_inspections(users["province"], rows)
    assert lines(outcome) == [(4, "设备代码", "equipment.unknown", "error")]
    assert "3110T9999202099999" in outcome.findings[0].message
    assert Inspection.objects.count() == 0


def test_a_county_user_cannot_record_another_countys_inspection(users, devices):
    outcome = import_inspections(users["xixia"], inspection_rows(devices)[:1])
    assert lines(outcome) == [(2, "设备代码", "equipment.unknown", "error")]
    assert Inspection.objects.count() == 0


# --- accidents ------------------------------------------------------------------------------------

ACCIDENT_PROPERTIES = {
    "发生时间": "2024-03-05 14:30",
    "事故类型": "困人",
    "事故等级": "一般",
    "死亡人数": 0,
    "受伤人数": 1,
    "直接经济损失": 1.5,
    "原因类别": "使用管理",
    "事故地点": "兴庆区解放西街",
}
ACCIDENT_MAPPING = {
    "occurred_at": "发生时间",
    "kind": "事故类型",
    "severity": "事故等级",
    "deaths": "死亡人数",
    "injuries": "受伤人数",
    "direct_loss": "直接经济损失",
    "cause_class": "原因类别",
    "address": "事故地点",
}


def import_gcj_accident(user):
    wgs = inside(XINGQING)
    gcj = prcoords.wgs_gcj(prcoords.Coords(wgs.y, wgs.x))  # prcoords works in (lat, lon)
    data = geojson_bytes([(gcj.lon, gcj.lat, ACCIDENT_PROPERTIES)])
    outcome = run(
        data, "事故.geojson", Dataset.ACCIDENTS, user,
        source_crs=crs.CRS.GCJ02, mapping=ACCIDENT_MAPPING,
    )  # fmt: skip
    return outcome, wgs, gcj


def test_an_accident_in_gcj02_geojson_is_stored_in_wgs84(users):
    outcome, wgs, gcj = import_gcj_accident(users["province"])
    assert outcome.findings == [] and outcome.headline() == "1 new, 0 changed, 0 unchanged"
    accident = Accident.objects.get()
    back = prcoords.gcj_wgs_bored(gcj)  # prcoords' own iterative inverse
    assert accident.location.x == pytest.approx(back.lon, abs=1e-7)
    assert accident.location.y == pytest.approx(back.lat, abs=1e-7)
    assert accident.location.x == pytest.approx(wgs.x, abs=1e-7)
    assert accident.location.y == pytest.approx(wgs.y, abs=1e-7)
    assert accident.occurred_at == dt.datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)
    assert (accident.region_id, accident.kind, accident.severity, accident.cause_class) == (
        XINGQING, "困人", "ordinary", "use_management",
    )  # fmt: skip
    assert (accident.injuries, accident.direct_loss) == (1, Decimal("1.50"))


def test_an_accident_reimported_is_unchanged(users):
    import_gcj_accident(users["province"])
    outcome, _, _ = import_gcj_accident(users["province"])
    assert outcome.headline() == "0 new, 0 changed, 1 unchanged"
    assert Accident.objects.count() == 1


def test_a_county_user_cannot_import_another_countys_accident(users):
    outcome, _, _ = import_gcj_accident(users["xixia"])
    assert lines(outcome) == [(1, "几何 / geometry", "jurisdiction", "error")]
    assert Accident.objects.count() == 0


def test_an_accident_at_a_device_without_coordinates_is_placed_at_the_device(users, devices):
    # The mapping check asks for a point or a division code even when the device gives the place.
    header = ["发生时间", "设备代码", "事故类型", "事故等级", "死亡人数", "区划代码"]
    rows = [["2024-04-01 08:15", devices[1].device_code, "坠落", "较大", 3, XINGQING]]
    data = csv_bytes(header, rows, "gbk")
    mapping = {
        "occurred_at": "发生时间", "equipment_code": "设备代码", "kind": "事故类型",
        "severity": "事故等级", "deaths": "死亡人数", "division_code": "区划代码",
    }  # fmt: skip
    outcome = run(data, "事故.csv", Dataset.ACCIDENTS, users["province"], mapping=mapping)
    assert outcome.findings == [] and outcome.new == 1
    accident = Accident.objects.get()
    assert (accident.equipment, accident.unit, accident.region_id) == (
        devices[1], devices[1].use_unit, XINGQING,
    )  # fmt: skip
    assert accident.location.equals_exact(devices[1].location, 1e-9)
    assert (accident.severity, accident.deaths) == ("large", 3)
    again = run(data, "事故.csv", Dataset.ACCIDENTS, users["province"], mapping=mapping)
    assert again.headline() == "0 new, 0 changed, 1 unchanged"


@pytest.mark.parametrize(
    ("label", "severity"),
    [("一般", "ordinary"), ("较大事故", "large"), ("重大", "major"), ("特别重大", "extraordinary"),
     ("major", "major")],
)  # fmt: skip
def test_severity_by_chinese_label_or_code(users, label, severity):
    header = ["发生时间", "行政区划代码", "事故类型", "事故等级"]
    data = csv_bytes(header, [["2024-03-05", XINGQING, "坠落", label]], "gbk")
    outcome = run(data, "事故.csv", Dataset.ACCIDENTS, users["province"], mapping={
        "occurred_at": "发生时间", "division_code": "行政区划代码", "kind": "事故类型",
        "severity": "事故等级",
    })  # fmt: skip
    assert outcome.findings == []
    assert Accident.objects.get().severity == severity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024/3/5 9:05:07", dt.datetime(2024, 3, 5, 9, 5, 7)),
        ("2024年3月5日14时30分", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05", dt.datetime(2024, 3, 5)),
        ("2024-03-05T14:30:00+08:00", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05T06:30:00Z", dt.datetime(2024, 3, 5, 14, 30)),
        (dt.datetime(2024, 3, 5, 8, 0), dt.datetime(2024, 3, 5, 8, 0)),
        (45356.75, dt.datetime(2024, 3, 5, 18, 0)),  # Excel serial: 45356 is 2024-03-05
    ],
)
def test_moment_reads_the_times_files_hold(value, expected, settings):
    assert moment(value) == expected.replace(tzinfo=SHANGHAI)
