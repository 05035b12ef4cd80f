"""Cylinders and fillings through the import pipeline: per-row report, all or nothing, the filling
rules and idempotency of the stations' endpoint, the user's jurisdiction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.timezone import localtime

from accounts.models import AuditEntry
from cylinders import services
from cylinders.models import Cylinder, FillingRecord, Violation
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling
from tests.registry.importers.record_files import csv_bytes, lines, run, xlsx_bytes

ERROR, WARNING = "error", "warning"
CYLINDER_HEADER = [
    "电子标签", "制造单位", "出厂编号", "制造日期", "气瓶类别", "公称容积(L)", "公称工作压力(MPa)",
    "报废日期", "上次检验日期", "下次检验日期", "产权单位统一社会信用代码", "状态",
]  # fmt: skip
FILLING_HEADER = [
    "电子标签", "充装单位统一社会信用代码", "充装时间", "充装介质", "充装量(kg)", "充装前检查",
    "作业人员证号",
]  # fmt: skip
DAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def import_root(settings, tmp_path):
    settings.IMPORT_ROOT = tmp_path / "imports"


def cylinder_row(tag: str, station, **fields) -> list:
    row = {
        "tag": tag, "maker": "宁夏气瓶厂", "serial": f"S-{tag}", "made": "2022-03-01",
        "kind": "液化石油气钢瓶", "volume": "35.5", "pressure": "2.1", "scrap": "2030-03-01",
        "last": "2024-03-01", "next": "2028-03-01", "station": station.credit_code, "status": "在用",
    }  # fmt: skip
    row.update(fields)
    return list(row.values())


def filling_row(tag: str, station, when: str = "2026-03-10 10:00", **fields) -> list:
    row = {
        "tag": tag, "station": station.credit_code, "time": when, "medium": "液化石油气",
        "quantity": "14.5", "check": "合格", "certificate": "TSR123456",
    }  # fmt: skip
    row.update(fields)
    return list(row.values())


def import_cylinders(user, rows, *, commit=True, xlsx=False):
    if xlsx:
        return run(xlsx_bytes(CYLINDER_HEADER, rows), "气瓶.xlsx", "cylinders", user, commit=commit)
    return run(csv_bytes(CYLINDER_HEADER, rows), "气瓶.csv", "cylinders", user, commit=commit)


def import_fillings(user, rows, *, commit=True, xlsx=False):
    if xlsx:
        return run(xlsx_bytes(FILLING_HEADER, rows), "充装.xlsx", "fillings", user, commit=commit)
    return run(csv_bytes(FILLING_HEADER, rows), "充装.csv", "fillings", user, commit=commit)


# --- cylinders ------------------------------------------------------------------------------------


def test_a_good_cylinder_file_registers_each_cylinder_with_its_stamped_dates(users, station):
    outcome = import_cylinders(
        users["xingqing"],
        [cylinder_row("RFID-A1", station), cylinder_row("RFID-A2", station, status="报废")],
    )
    assert outcome.findings == [] and outcome.committed
    assert outcome.headline() == "2 new, 0 changed, 0 unchanged"
    first, second = Cylinder.objects.order_by("tag")
    assert (first.owner, first.region_id, first.kind) == (station, station.region_id, "lpg")
    assert (first.scrap_on, first.design_life_years) == (dt.date(2030, 3, 1), 8)
    assert (first.volume_l, first.working_pressure_mpa) == (Decimal("35.5"), Decimal("2.10"))
    assert first.next_inspection_due == dt.date(2028, 3, 1)
    assert (first.status, second.status) == ("in_service", "scrapped")
    assert AuditEntry.objects.filter(action="cylinder.registered").count() == 2


def test_reimporting_cylinders_changes_nothing_and_a_changed_cell_updates(users, station):
    rows = [cylinder_row("RFID-B1", station), cylinder_row("RFID-B2", station)]
    import_cylinders(users["xingqing"], rows)
    again = import_cylinders(users["xingqing"], rows)
    assert again.headline() == "0 new, 0 changed, 2 unchanged" and again.findings == []
    rows[1] = cylinder_row("RFID-B2", station, next="2029-03-01")
    changed = import_cylinders(users["xingqing"], rows)
    assert changed.headline() == "0 new, 1 changed, 1 unchanged"
    assert Cylinder.objects.get(tag="RFID-B2").next_inspection_due == dt.date(2029, 3, 1)
    assert AuditEntry.objects.filter(action="cylinder.updated").count() == 1


@pytest.mark.parametrize("xlsx", [False, True], ids=["csv", "xlsx"])
def test_bad_cylinder_rows_are_reported_by_row_and_column_and_nothing_is_written(
    users, station, make_unit, xlsx
):
    not_a_station = make_unit()
    rows = [
        cylinder_row("RFID-C1", station),
        cylinder_row("RFID-C2", station, kind="潜水瓶"),
        cylinder_row("RFID-C3", station, made="2022-13-40"),
        cylinder_row("RFID-C4", station, scrap="2020-01-01"),
        cylinder_row("RFID-C5", not_a_station),
        cylinder_row("RFID-C1", station),
        cylinder_row("RFID-C7", station, volume="-3"),
    ]
    outcome = import_cylinders(users["xingqing"], rows, xlsx=xlsx)
    assert not outcome.committed
    assert {(row, column, severity) for row, column, _, severity in lines(outcome)} == {
        (3, "气瓶类别", ERROR),
        (4, "制造日期", ERROR),
        (5, "报废日期", ERROR),
        (6, "产权单位统一社会信用代码", ERROR),
        (7, "电子标签", ERROR),
        (8, "公称容积(L)", ERROR),
    }
    rules = {row: rule for row, _, rule, _ in lines(outcome)}
    assert (rules[6], rules[7]) == ("station.role", "duplicate.in_file")
    assert Cylinder.objects.count() == 0  # one bad row: the good ones are not written either


def test_a_dry_run_reports_and_writes_nothing(users, station):
    outcome = import_cylinders(users["xingqing"], [cylinder_row("RFID-D1", station)], commit=False)
    assert outcome.headline() == "1 new, 0 changed, 0 unchanged" and not outcome.committed
    assert Cylinder.objects.count() == 0


def test_stations_and_tags_of_another_jurisdiction_are_row_errors(
    users, station, make_station, make_cylinder
):
    theirs = make_station(XIXIA)
    taken = make_cylinder(owner=theirs)
    outcome = import_cylinders(
        users["xingqing"],
        [
            cylinder_row("RFID-E1", theirs),  # a Xixia station, for a Xingqing supervisor
            cylinder_row(taken.tag, station),  # a tag Xixia holds
        ],
    )
    assert [(row, column, rule) for row, column, rule, _ in lines(outcome)] == [
        (2, "产权单位统一社会信用代码", "station.unknown"),
        (3, "电子标签", "tag.duplicate"),
    ]
    # Nothing of the other jurisdiction's station or cylinder is told.
    assert all(theirs.name not in f.message for f in outcome.findings)
    assert not outcome.committed and Cylinder.objects.get(tag=taken.tag).owner == theirs


# --- fillings -------------------------------------------------------------------------------------


def test_a_good_filling_file_records_the_fillings_and_their_violations(
    users, station, make_cylinder
):
    fine = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    due = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=3))
    outcome = import_fillings(
        users["xingqing"],
        [
            filling_row(fine.tag, station),
            filling_row(due.tag, station),
            filling_row("NOT-REGISTERED", station),
            filling_row(fine.tag, station, "2026-03-10 11:00", check="不合格"),
        ],
        xlsx=True,
    )
    assert outcome.errors == 0 and outcome.committed
    assert outcome.headline() == "4 new, 0 changed, 0 unchanged"
    assert [(row, column, rule) for row, column, rule, _ in lines(outcome)] == [
        (3, "电子标签", "filling.overdue"),
        (4, "电子标签", "filling.unregistered"),
        (5, "充装前检查", "filling.check_failed"),
    ]
    assert {f.severity for f in outcome.findings} == {WARNING}
    stored = {
        (r.tag, localtime(r.filled_at).hour): r.violations for r in FillingRecord.objects.all()
    }
    assert stored == {
        (fine.tag, 10): [],
        (due.tag, 10): ["overdue"],
        ("NOT-REGISTERED", 10): ["unregistered"],
        (fine.tag, 11): ["check_failed"],
    }
    assert sorted(Violation.objects.values_list("rule", "found_by")) == [
        ("check_failed", "ingest"), ("overdue", "ingest"), ("unregistered", "ingest"),
    ]  # fmt: skip
    assert FillingRecord.objects.get(tag=fine.tag, filled_at=at(DAY)).station == station
    assert AuditEntry.objects.get(action="fillings.recorded").actor == users["xingqing"]


def test_an_imported_filling_is_recorded_as_the_endpoint_records_it(users, station, make_cylinder):
    """The same filling through the file and through the endpoint: the second is a duplicate."""
    due = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=3))
    import_fillings(users["xingqing"], [filling_row(due.tag, station)])
    report = services.record_fillings(
        station, [filling(due.tag, at(DAY))], acting_user=users["xingqing"]
    )
    assert (report.recorded, report.duplicates) == (0, 1)
    assert FillingRecord.objects.get().violations == ["overdue"]


def test_reimporting_the_same_fillings_adds_nothing(users, station, make_cylinder):
    due = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=3))
    rows = [filling_row(due.tag, station), filling_row(due.tag, station, "2026-03-11 09:30")]
    import_fillings(users["xingqing"], rows)
    again = import_fillings(users["xingqing"], rows)
    assert again.headline() == "0 new, 0 changed, 2 unchanged"
    assert again.committed and again.findings == []  # violations are told when recorded
    assert (FillingRecord.objects.count(), Violation.objects.count()) == (2, 2)


@pytest.mark.parametrize("xlsx", [False, True], ids=["csv", "xlsx"])
def test_bad_filling_rows_name_row_and_column_and_nothing_is_recorded(
    users, station, make_cylinder, xlsx
):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    rows = [
        filling_row(cylinder.tag, station),
        filling_row(cylinder.tag, station, "2026-03-10 12:00", quantity="-2"),
        filling_row(cylinder.tag, station, "下午三点"),
        filling_row(cylinder.tag, station, "2026-03-10 13:00", check="还行"),
        filling_row(cylinder.tag, station, "2036-03-10 13:00"),
        filling_row(cylinder.tag, station),
        filling_row(cylinder.tag, station, "2026-03-10 14:00", certificate=""),
    ]
    outcome = import_fillings(users["xingqing"], rows, xlsx=xlsx)
    assert not outcome.committed
    assert [(row, column, rule) for row, column, rule, _ in lines(outcome)] == [
        (3, "充装量(kg)", "quantity_kg.invalid"),
        (4, "充装时间", "cell.date"),
        (5, "充装前检查", "check_result.invalid"),
        (6, "充装时间", "filled_at.future"),
        (7, "充装时间", "duplicate.in_file"),
        (8, "作业人员证号", "operator_certificate.required"),
    ]
    assert FillingRecord.objects.count() == Violation.objects.count() == 0


def test_fillings_of_a_station_outside_the_jurisdiction_are_refused(users, station, make_station):
    theirs = make_station(XIXIA)
    outcome = import_fillings(
        users["xingqing"], [filling_row("T-1", station), filling_row("T-2", theirs)]
    )
    assert [line for line in lines(outcome) if line[3] == ERROR] == [
        (3, "充装单位统一社会信用代码", "station.unknown", ERROR),
    ]
    assert not outcome.committed and FillingRecord.objects.count() == 0


# --- the page and the API -------------------------------------------------------------------------


def test_the_import_page_and_api_offer_the_datasets(users, station):
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get("/imports/").content.decode()
    assert 'value="cylinders"' in page and 'value="fillings"' in page
    data = csv_bytes(FILLING_HEADER, [filling_row("T-1", station)])
    answer = client.post(
        "/api/imports/",
        {"file": SimpleUploadedFile("充装.csv", data), "dataset": "fillings", "source": "站点"},
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["dataset_label"] == "充装记录 / filling records"
    assert body["mapping"]["filled_at"] == "充装时间"
    assert {e["name"] for e in body["elements"]} >= {"tag", "station_credit_code", "check_result"}
