"""The precomputed measures (analysis/precomputed.py) against their oracle, the computation from
the registry tables (analysis.figures.measures_from_registry), on real PostGIS data: the demo
generator's registry and the hand-worked fixture of conftest.py."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from analysis import desk, precomputed
from analysis.figures import Measures, measures_from_registry, total
from analysis.indicators import INDICATORS
from analysis.models import (
    CountyDaySnapshot,
    CountyKindCount,
    CountyMeasureState,
    CountyYearMeasure,
    StaleCounty,
)
from geo.scoping import Scope
from registry import services
from registry.models import Equipment, EquipmentStatus
from registry.synthetic import generate as generate_registry
from tests.analysis.conftest import TODAY
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA

YEARS = list(range(2014, TODAY.year + 1))


def as_dict(figures, years) -> dict:
    """Figures without their empty children, comparable across the two computations."""
    out = {}
    for child, per_year in figures.items():
        rows = {year: per_year[year] for year in years if per_year[year] != Measures()}
        if rows:
            out[child] = rows
    return out


def assert_table_is_the_registry(prefix: str, today: dt.date, years=YEARS) -> None:
    for width in sorted({0, 2, 4, 6} - set(range(len(prefix)))) or [6]:
        table = precomputed.measures(Scope(prefix), width, years, today)
        # Over the table's own span: a device's unlicensed-activity finding is its first such
        # activity in the span (licensing.findings), so a shorter span can date it later.
        span = range(precomputed.FIRST_YEAR, today.year + 1)
        live = measures_from_registry(Scope(prefix), width, span, today)
        table, live = as_dict(table, years), as_dict(live, years)
        for child in sorted(set(table) | set(live)):
            for year in years:
                one = table.get(child, {}).get(year)
                other = live.get(child, {}).get(year)
                assert one == other, (prefix, width, child, year, one, other)


@pytest.fixture
def demo(db):
    """The demo generator's registry of 宁夏 (ten years of history), counted."""
    report = generate_registry(prefix="64", devices=900, seed=18, today=TODAY, progress=False)
    call_command("generate_supervision", prefix="64", seed=18, stdout=io.StringIO())
    precomputed.refresh(None, TODAY)
    return report


def test_the_table_is_the_registry_for_the_demo_data(demo):
    assert not StaleCounty.objects.exists()
    for prefix in ("", "64", "6401", "6402", XINGQING):
        assert_table_is_the_registry(prefix, TODAY)
    # Something was counted: every measure of the ten years appears somewhere.
    summed = total(precomputed.measures(Scope("64"), 0, YEARS, TODAY), YEARS)
    assert 0 < summed[TODAY.year].registered <= Equipment.objects.count()
    for name in ("cancellations", "due", "inspected_on_time", "supervision_required", "overdue"):
        assert any(getattr(m, name) for m in summed.values()), name


def test_devices_by_kind_are_the_registers(demo):
    counted = precomputed.kind_counts(Scope("6401"), TODAY)
    live = {}
    for kind, status in Equipment.objects.filter(region__code__startswith="6401").values_list(
        "kind", "status"
    ):
        live[(kind, status)] = live.get((kind, status), 0) + 1
    assert counted == live


def test_a_write_marks_its_county_and_the_refresh_counts_only_that(demo):
    device = Equipment.objects.filter(region_id=XINGQING, status=EquipmentStatus.IN_USE).first()
    before = dict(CountyMeasureState.objects.values_list("county", "computed_at"))
    services.change_equipment_status(
        device, EquipmentStatus.SUSPENDED, acting_user=None, on=TODAY - dt.timedelta(days=3)
    )
    assert set(StaleCounty.objects.values_list("county", flat=True)) == {XINGQING}
    # The table still holds the old count until the refresh (the command a timer runs).
    old = total(precomputed.measures(Scope(XIXIA), 0, [TODAY.year], TODAY), [TODAY.year])
    call_command("refresh_measures", today=TODAY.isoformat(), stdout=io.StringIO())
    after = dict(CountyMeasureState.objects.values_list("county", "computed_at"))
    assert [c for c in after if after[c] != before[c]] == [XINGQING]
    assert not StaleCounty.objects.exists()
    assert_table_is_the_registry("6401", TODAY)
    xixia = total(precomputed.measures(Scope(XIXIA), 0, [TODAY.year], TODAY), [TODAY.year])
    assert xixia == old


def test_a_device_moved_to_another_county_leaves_one_and_joins_the_other(demo):
    # A device in the register on TODAY: registered before it, never cancelled.
    device = (
        Equipment.objects.filter(region_id=XINGQING, events__kind="registration")
        .exclude(events__kind="cancellation")
        .filter(events__occurred_on__lt=TODAY)
        .order_by("pk")
        .first()
    )
    year = TODAY.year
    counts = {
        code: total(precomputed.measures(Scope(code), 0, [year], TODAY), [year])[year]
        for code in (XINGQING, XIXIA)
    }
    Equipment.objects.filter(pk=device.pk).update(region_id=XIXIA)
    assert set(StaleCounty.objects.values_list("county", flat=True)) == {XINGQING, XIXIA}
    done = precomputed.catch_up("64", TODAY, limit=None)
    assert done.counties == 2
    assert_table_is_the_registry("64", TODAY)
    moved = {
        code: total(precomputed.measures(Scope(code), 0, [year], TODAY), [year])[year]
        for code in (XINGQING, XIXIA)
    }
    assert moved[XINGQING].registered == counts[XINGQING].registered - 1
    assert moved[XIXIA].registered == counts[XIXIA].registered + 1


def test_a_read_recounts_the_few_stale_counties_of_its_scope_first(registry):
    # The fixture's writes marked its counties; a read of the city counts them before answering.
    assert {XINGQING, XIXIA, SHIZUISHAN_DAWUKOU} <= set(
        StaleCounty.objects.values_list("county", flat=True)
    )
    figures = precomputed.measures(Scope("6401"), 6, [2025], TODAY)
    assert figures[XINGQING][2025].registered == 4 and figures.computed_at is not None
    assert set(StaleCounty.objects.values_list("county", flat=True)) == {SHIZUISHAN_DAWUKOU}


def test_a_read_with_too_many_stale_counties_answers_from_the_table(registry, settings):
    precomputed.refresh(None, TODAY)
    stamp = CountyMeasureState.objects.get(county=XINGQING).computed_at
    services.change_equipment_status(
        registry["A"], EquipmentStatus.SUSPENDED, acting_user=None, on=dt.date(2025, 6, 1)
    )
    Equipment.objects.filter(pk=registry["F"].pk).update(region_id=XIXIA)  # marks 西夏区
    settings.ANALYSIS_READ_REFRESH_DEVICES = 5  # the two counties hold 6 devices
    figures = precomputed.measures(Scope("6401"), 6, [2025], TODAY)
    # Two stale counties, larger than the read may count: the stored figures and their time.
    assert figures[XINGQING][2025].in_use == 3 and figures.computed_at == stamp
    assert StaleCounty.objects.filter(county__in=[XINGQING, XIXIA]).count() == 2


def test_the_snapshot_is_taken_once_a_day(registry):
    precomputed.refresh(None, TODAY)
    first = list(
        CountyDaySnapshot.objects.order_by("county").values_list(
            "county", "day", "in_use", "overdue"
        )
    )
    precomputed.refresh(None, TODAY)
    again = list(
        CountyDaySnapshot.objects.order_by("county").values_list(
            "county", "day", "in_use", "overdue"
        )
    )
    assert first == again
    # 兴庆区 on 30 June 2025: A, B, D in use (C cancelled, E suspended), D overdue (no due date).
    assert (XINGQING, TODAY, 3, 1) in first
    # The next day adds a row per county; the desk reads the latest.
    later = TODAY + dt.timedelta(days=1)
    precomputed.refresh(None, later)
    assert CountyDaySnapshot.objects.filter(county=XINGQING).count() == 2
    assert CountyDaySnapshot.objects.filter(day=TODAY).count() == len(first)


def test_a_past_days_snapshot_stays_when_the_register_changes(registry):
    precomputed.refresh(None, TODAY)
    later = TODAY + dt.timedelta(days=1)
    services.change_equipment_status(
        registry["A"], EquipmentStatus.SUSPENDED, acting_user=None, on=later
    )
    precomputed.refresh(None, later)
    rows = dict(CountyDaySnapshot.objects.filter(county=XINGQING).values_list("day", "in_use"))
    assert rows == {TODAY: 3, later: 2}


@pytest.mark.parametrize("prefix", ["", "64", "6401"])
def test_parents_are_the_sums_of_their_counties(registry, prefix):
    precomputed.refresh(None, TODAY)
    years = [2023, 2024, 2025]
    counties = precomputed.measures(Scope(prefix), 6, years, TODAY)
    for width in (0, 2, 4):
        if width < len(prefix):
            continue
        parents = precomputed.measures(Scope(prefix), width, years, TODAY)
        for parent, per_year in parents.items():
            for year in years:
                summed = Measures()
                for county, rows in counties.items():
                    if county.startswith(parent):
                        summed.add(rows[year])
                assert per_year[year] == summed, (parent, year)


def test_a_parents_rate_is_formed_from_the_sums_not_averaged(registry):
    precomputed.refresh(None, TODAY)
    # 银川市 2025: 兴庆区 1 of 2 due dates on time (50 %), 西夏区 0 of 1 (0 %): 1 of 3, not 25 %.
    rows, totals = desk.child_rows(desk.area_of("6401"), 2025, TODAY)
    by_code = {row["code"]: row["values"]["inspection_rate"] for row in rows}
    assert (by_code[XINGQING], by_code[XIXIA]) == (50.0, 0.0)
    assert totals["values"]["inspection_rate"] == round(100 / 3, 4)


def test_a_county_whose_devices_all_left_reads_zero(registry):
    precomputed.refresh(None, TODAY)
    Equipment.objects.filter(region_id=SHIZUISHAN_DAWUKOU).update(region_id=XINGQING)
    precomputed.catch_up("", TODAY, limit=None)
    figures = precomputed.measures(Scope("6402"), 6, [2025], TODAY)
    assert (
        figures.get(SHIZUISHAN_DAWUKOU) is None or figures[SHIZUISHAN_DAWUKOU][2025] == Measures()
    )
    assert not CountyYearMeasure.objects.filter(county=SHIZUISHAN_DAWUKOU).exists()
    assert not CountyKindCount.objects.filter(county=SHIZUISHAN_DAWUKOU).exists()


def test_a_failed_count_marks_its_counties_again(registry, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the count failed")

    monkeypatch.setattr(precomputed, "measures_from_registry", broken)
    with pytest.raises(RuntimeError):
        precomputed.refresh([XINGQING, XIXIA], TODAY)
    assert set(StaleCounty.objects.values_list("county", flat=True)) >= {XINGQING, XIXIA}


def test_another_day_is_counted_again_on_read(registry):
    precomputed.refresh(None, TODAY)
    later = dt.date(2025, 12, 31)
    figures = precomputed.measures(Scope("6401"), 0, [2025], later)
    assert figures.as_of == later
    live = measures_from_registry(Scope("6401"), 0, [2025], later)
    assert as_dict(figures, [2025]) == as_dict(live, [2025])


def test_the_triggers_mark_every_table_behind_the_figures(registry, make_unit):
    from inspections import services as supervision

    StaleCounty.objects.all().delete()
    services.record_inspection(
        registry["G"], acting_user=None, conclusion="pass", inspected_on=dt.date(2025, 6, 1)
    )
    assert list(StaleCounty.objects.values_list("county", flat=True)) == [XIXIA]
    StaleCounty.objects.all().delete()
    services.record_accident(
        acting_user=None,
        occurred_at=timezone.make_aware(dt.datetime(2025, 5, 5, 10)),
        kind="坠落",
        equipment=registry["H"],
        deaths=0,
        injuries=1,
    )
    assert SHIZUISHAN_DAWUKOU in StaleCounty.objects.values_list("county", flat=True)
    StaleCounty.objects.all().delete()
    body = make_unit(XINGQING, roles=("inspection",), name="宁夏特检院")
    supervision.record_supervisory_inspection(
        registry["A"], acting_user=None, stage="installation", body=body,
        inspected_on=registry["A"].commissioned_on, conclusion="pass",
        report_number="JJ-A", certificate_number="C-A",
    )  # fmt: skip
    assert XINGQING in StaleCounty.objects.values_list("county", flat=True)
    StaleCounty.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM registry_lifecycleevent WHERE equipment_id = %s AND kind = 'suspension'",
            [registry["E"].pk],
        )
    assert list(StaleCounty.objects.values_list("county", flat=True)) == [XINGQING]


def test_every_indicator_reads_the_same_from_the_table(demo):
    area = desk.area_of("6401")
    for year in (TODAY.year - 3, TODAY.year):
        rows, totals = desk.child_rows(area, year, TODAY)
        live = measures_from_registry(Scope("6401"), 6, [year], TODAY)
        for row in rows:
            counts = live[row["prefix"]][year] if row["prefix"] in live else Measures()
            for indicator in INDICATORS:
                assert row["values"][indicator.key] == desk.value_of(indicator, counts)["value"]


def test_a_derived_snapshot_is_the_taken_one_where_the_records_hold_it(registry):
    precomputed.refresh(None, TODAY)
    taken = {
        (county, day): (n, overdue)
        for county, day, n, overdue in CountyDaySnapshot.objects.values_list(
            "county", "day", "in_use", "overdue"
        )
    }
    CountyDaySnapshot.objects.all().delete()
    end_2024 = dt.date(2024, 12, 31)
    precomputed.backfill([end_2024, TODAY], "64")
    derived = {
        (county, day): (n, overdue)
        for county, day, n, overdue in CountyDaySnapshot.objects.filter(derived=True).values_list(
            "county", "day", "in_use", "overdue"
        )
    }
    # On TODAY every due date in force is in the records: the derived counts are the taken ones.
    assert {k: v for k, v in derived.items() if k[1] == TODAY} == taken
    # 31 December 2024: 兴庆区 A and B in use (C cancelled, E suspended, D not yet registered),
    # both inspected within the year; 西夏区 F (due 2025-06-01) and G (due 2025-11-01).
    assert derived[(XINGQING, end_2024)] == (2, 0)
    assert derived[(XIXIA, end_2024)] == (2, 0)


def test_a_taken_snapshot_is_never_replaced_by_a_derived_one(registry):
    precomputed.refresh(None, TODAY)
    CountyDaySnapshot.objects.filter(county=XINGQING, day=TODAY).update(overdue=99)
    precomputed.backfill([TODAY], "64")
    row = CountyDaySnapshot.objects.get(county=XINGQING, day=TODAY)
    assert (row.overdue, row.derived) == (99, False)


def test_a_committed_import_catches_the_counties_up(registry):
    from registry.importers.jobs import import_committed
    from registry.models import ImportJob

    assert StaleCounty.objects.exists()
    import_committed.send(ImportJob, job=None)
    assert not StaleCounty.objects.exists()
    assert CountyMeasureState.objects.filter(county=XINGQING, as_of=timezone.localdate()).exists()


def test_the_command_counts_the_counties_given(registry):
    out = io.StringIO()
    call_command("refresh_measures", county=[XIXIA], today=TODAY.isoformat(), stdout=out)
    assert out.getvalue().startswith("1 counties recomputed as of 2025-06-30")
    assert list(CountyMeasureState.objects.values_list("county", flat=True)) == [XIXIA]
    with pytest.raises(CommandError):
        call_command("refresh_measures", county=["64010"], stdout=out)


def test_the_desk_and_its_api_say_when_the_figures_were_computed(registry, users):
    from django.test import Client

    client = Client()
    client.force_login(users["province"])
    overview = client.get("/api/analysis/overview").json()
    stamp = CountyMeasureState.objects.order_by("computed_at").first().computed_at
    assert dt.datetime.fromisoformat(overview["computed_at"]) == stamp
    regions = client.get("/api/analysis/regions").json()
    assert dt.datetime.fromisoformat(regions["computed_at"]) == stamp
    page = client.get("/analysis/").content.decode()
    shown = timezone.localtime(stamp).strftime("%Y-%m-%d %H:%M")
    assert "数据计算于" in page and shown in page


def test_the_command_counts_every_county_and_derives_past_year_ends(registry):
    out = io.StringIO()
    call_command(
        "refresh_measures", all=True, today=TODAY.isoformat(), backfill_years=2, stdout=out
    )
    assert "derived snapshots for 2023-12-31–2024-12-31" in out.getvalue()
    assert set(CountyMeasureState.objects.values_list("county", flat=True)) == {
        XINGQING,
        XIXIA,
        SHIZUISHAN_DAWUKOU,
    }
    days = set(CountyDaySnapshot.objects.filter(county=XINGQING).values_list("day", "derived"))
    assert days == {(TODAY, False), (dt.date(2024, 12, 31), True), (dt.date(2023, 12, 31), True)}


def overdue_trend(user, today, years=3):
    overview = desk.overview(user, desk.area_of("6401"), today.year, years, today)
    return next(i for i in overview["indicators"] if i["key"] == "overdue_rate")["trend"]


def test_the_overdue_share_trend_reads_each_years_last_snapshot(registry, users):
    """银川市: on 31 December 2024 (derived) 兴庆区 A, B and 西夏区 F, G in use, none overdue; on
    TODAY (taken) 兴庆区 A, B, D with D overdue, 西夏区 F, G with F overdue: 2 of 5. 2023 has no
    snapshot: no figure, not 0."""
    precomputed.refresh(None, TODAY)
    precomputed.backfill([dt.date(2024, 12, 31)], "64")
    trend = overdue_trend(users["city"], TODAY)
    assert trend == [
        {"year": 2023, "value": None, "numerator": None, "denominator": None, "day": None,
         "derived": False},
        {"year": 2024, "value": 0.0, "numerator": 0, "denominator": 4, "day": "2024-12-31",
         "derived": True},
        {"year": 2025, "value": 40.0, "numerator": 2, "denominator": 5,
         "day": TODAY.isoformat(), "derived": False},
    ]  # fmt: skip
    # The current year's point is the card's own value (today's state).
    overview = desk.overview(users["city"], desk.area_of("6401"), 2025, 3, TODAY)
    card = next(i for i in overview["indicators"] if i["key"] == "overdue_rate")
    assert (card["value"], card["numerator"], card["denominator"]) == (40.0, 2, 5)


def test_a_county_counts_with_its_latest_snapshot_in_the_year(registry, users, settings):
    """兴庆区 counted again a day later (A suspended: 2 in use, D overdue), 西夏区 not: the year's
    point sums 兴庆区's later row and 西夏区's TODAY row."""
    settings.ANALYSIS_READ_REFRESH_DEVICES = 0  # the read counts nothing itself
    precomputed.refresh(None, TODAY)
    later = TODAY + dt.timedelta(days=1)
    services.change_equipment_status(
        registry["A"], EquipmentStatus.SUSPENDED, acting_user=None, on=later
    )
    precomputed.refresh([XINGQING], later)
    point = overdue_trend(users["city"], later)[-1]
    assert (point["numerator"], point["denominator"], point["day"]) == (2, 4, later.isoformat())
    # Asked as of TODAY, the later row is not read.
    point = overdue_trend(users["city"], TODAY)[-1]
    assert (point["numerator"], point["denominator"], point["day"]) == (2, 5, TODAY.isoformat())
