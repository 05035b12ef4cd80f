"""The filling rules, one by one, at ingest and in the batch re-check (cylinders.rules)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from common.errors import DomainError
from cylinders import services
from cylinders.models import Cylinder, CylinderStatus, FillingRecord, Violation
from cylinders.rules import Rule
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling, lapse_licence

DAY = dt.date(2026, 3, 10)


def ingest(station, *rows):
    return services.record_fillings(station, list(rows), acting_user=None)


def violations_of(station) -> set[str]:
    return set(Violation.objects.filter(station=station).values_list("rule", flat=True))


def test_a_sound_filling_breaks_no_rule(station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    report = ingest(station, filling(cylinder.tag, at(DAY)))
    assert report.rows == [
        {"row": 0, "tag": cylinder.tag, "filled_at": at(DAY).isoformat(), "status": "recorded",
         "violations": []}
    ]  # fmt: skip
    record = FillingRecord.objects.get(tag=cylinder.tag)
    assert (record.station_id, record.cylinder_id, record.region_id) == (
        station.pk, cylinder.pk, station.region_id,
    )  # fmt: skip
    assert not Violation.objects.exists()


def test_an_unregistered_tag_is_recorded_and_flagged(station):
    report = ingest(station, filling("NO-SUCH-TAG", at(DAY)))
    assert report.rows[0]["violations"] == [Rule.UNREGISTERED]
    assert FillingRecord.objects.get(tag="NO-SUCH-TAG").cylinder_id is None


@pytest.mark.parametrize(
    "due, flagged",
    [(DAY - dt.timedelta(days=1), True), (DAY, False), (DAY + dt.timedelta(days=1), False)],
)
def test_overdue_is_a_due_date_before_the_filling_day(station, make_cylinder, due, flagged):
    cylinder = make_cylinder(next_inspection_due=due)
    report = ingest(station, filling(cylinder.tag, at(DAY, hour=23)))
    assert (Rule.OVERDUE in report.rows[0]["violations"]) is flagged


def test_the_local_day_decides_not_utc(station, make_cylinder):
    # 00:30 in Beijing on DAY is still the day before in UTC: a due date of DAY is not yet passed.
    cylinder = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=1))
    report = ingest(station, filling(cylinder.tag, at(DAY - dt.timedelta(days=1), hour=23)))
    assert Rule.OVERDUE not in report.rows[0]["violations"]
    report = ingest(
        station, {**filling(cylinder.tag, at(DAY)), "filled_at": f"{DAY}T00:30:00+08:00"}
    )
    assert Rule.OVERDUE in report.rows[0]["violations"]


def test_past_the_scrap_date(station, make_cylinder):
    # Made 2018-03-10 with an 8-year life: scrap date 2026-03-10, the filling day.
    cylinder = make_cylinder(made_on=dt.date(2018, 3, 10), next_inspection_due=dt.date(2027, 1, 1))
    assert cylinder.scrap_on == DAY
    report = ingest(station, filling(cylinder.tag, at(DAY)))
    assert report.rows[0]["violations"] == [Rule.PAST_SCRAP]


@pytest.mark.parametrize(
    "status, rule", [(CylinderStatus.SCRAPPED, Rule.PAST_SCRAP), (CylinderStatus.LOST, Rule.LOST)]
)
def test_a_scrapped_or_lost_cylinder(station, make_cylinder, status, rule):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1), status=status)
    assert ingest(station, filling(cylinder.tag, at(DAY))).rows[0]["violations"] == [rule]


def test_a_cylinder_owned_by_another_station(station, make_station, make_cylinder):
    other = make_station()
    cylinder = make_cylinder(owner=other, next_inspection_due=dt.date(2027, 1, 1))
    assert ingest(station, filling(cylinder.tag, at(DAY))).rows[0]["violations"] == [
        Rule.OTHER_STATION
    ]
    assert ingest(other, filling(cylinder.tag, at(DAY))).rows[0]["violations"] == []


@pytest.mark.parametrize(
    "valid_until, flagged",
    [(DAY - dt.timedelta(days=1), True), (DAY, False), (None, True)],
)
def test_the_stations_licence(make_station, make_cylinder, valid_until, flagged):
    station = make_station(valid_until=valid_until)
    cylinder = make_cylinder(owner=station, next_inspection_due=dt.date(2027, 1, 1))
    broken = ingest(station, filling(cylinder.tag, at(DAY))).rows[0]["violations"]
    assert broken == ([Rule.LICENCE_EXPIRED] if flagged else [])


def test_filling_after_a_failed_check(station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    report = ingest(station, filling(cylinder.tag, at(DAY), check_result="fail"))
    assert report.rows[0]["violations"] == [Rule.CHECK_FAILED]


def test_every_rule_broken_at_once_is_one_violation_each(make_station, make_cylinder):
    station, owner = make_station(valid_until=dt.date(2020, 1, 1)), make_station()
    cylinder = make_cylinder(
        owner=owner, made_on=dt.date(2010, 1, 1), next_inspection_due=dt.date(2020, 1, 1),
        status=CylinderStatus.LOST,
    )  # fmt: skip
    report = ingest(station, filling(cylinder.tag, at(DAY), check_result="fail"))
    expected = [Rule.OVERDUE, Rule.PAST_SCRAP, Rule.LOST, Rule.OTHER_STATION,
                Rule.LICENCE_EXPIRED, Rule.CHECK_FAILED]  # fmt: skip
    assert report.rows[0]["violations"] == expected
    assert violations_of(station) == set(expected)
    assert Violation.objects.filter(station=station, found_by="ingest").count() == len(expected)


def test_a_batch_is_idempotent_by_station_tag_and_time(station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=5))
    rows = [filling(cylinder.tag, at(DAY, 9)), filling(cylinder.tag, at(DAY, 11))]
    first = ingest(station, *rows)
    again = ingest(station, *rows, filling(cylinder.tag, at(DAY, 12)))
    assert (first.recorded, first.duplicates) == (2, 0)
    assert [r["status"] for r in again.rows] == ["duplicate", "duplicate", "recorded"]
    assert FillingRecord.objects.filter(tag=cylinder.tag).count() == 3
    assert Violation.objects.filter(rule=Rule.OVERDUE).count() == 3


def test_a_bad_row_refuses_the_whole_batch_naming_each_field(station, make_cylinder):
    cylinder = make_cylinder()
    rows = [
        filling(cylinder.tag, at(DAY)),
        filling("", at(DAY), quantity_kg="-1"),
        {**filling(cylinder.tag, at(DAY)), "filled_at": "yesterday", "check_result": "maybe"},
    ]
    with pytest.raises(services.CylinderError) as refused:
        ingest(station, *rows)
    assert set(refused.value.as_dict()) == {
        "fillings[1].tag", "fillings[1].quantity_kg", "fillings[2].filled_at",
        "fillings[2].check_result",
    }  # fmt: skip
    assert not FillingRecord.objects.exists()


def test_the_recheck_finds_what_became_known_later(station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    ingest(station, filling(cylinder.tag, at(DAY)))
    assert not Violation.objects.exists()
    # Found later: the cylinder had been reported lost, the licence had lapsed the week before.
    Cylinder.objects.filter(pk=cylinder.pk).update(status=CylinderStatus.LOST)
    lapse_licence(station, DAY - dt.timedelta(days=7))
    since, until = at(DAY, 0), at(DAY + dt.timedelta(days=1), 0)
    assert services.recheck_fillings(since, until)["violations_added"] == 2
    assert violations_of(station) == {Rule.LOST, Rule.LICENCE_EXPIRED}
    assert set(Violation.objects.values_list("found_by", flat=True)) == {"recheck"}
    # Run again: nothing new. The filling record itself is as it was received.
    assert services.recheck_fillings(since, until)["violations_added"] == 0
    assert FillingRecord.objects.get(tag=cylinder.tag).violations == []


def test_the_recheck_marks_overdue_cylinders(make_cylinder):
    due = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=1))
    fine = make_cylinder(next_inspection_due=DAY)
    lost = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=1), status=CylinderStatus.LOST)
    services.recheck_fillings(at(DAY), at(DAY), today=DAY)
    statuses = dict(Cylinder.objects.values_list("pk", "status"))
    assert (statuses[due.pk], statuses[fine.pk], statuses[lost.pk]) == (
        CylinderStatus.OVERDUE, CylinderStatus.IN_SERVICE, CylinderStatus.LOST,
    )  # fmt: skip


@pytest.mark.parametrize("statement", ["UPDATE cylinders_filling SET medium = 'x'",
                                       "DELETE FROM cylinders_filling"])  # fmt: skip
def test_filling_records_are_append_only_for_every_role(station, statement):
    ingest(station, filling("ANY", at(DAY)))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute(statement)
    assert FillingRecord.objects.get().medium == "液化石油气"


def test_fillings_land_in_their_months_partition_and_unknown_months_in_the_default(station):
    ingest(station, filling("A", at(DAY)), filling("B", at(dt.date(1999, 1, 5))))
    with connection.cursor() as cursor:
        cursor.execute("SELECT tag, tableoid::regclass::text FROM cylinders_filling ORDER BY tag")
        assert cursor.fetchall() == [
            ("A", "cylinders_filling_y2026m03"), ("B", "cylinders_filling_default"),
        ]  # fmt: skip


def test_partitions_are_made_ahead_once(db):
    assert services.ensure_partitions(dt.date(2031, 5, 1), 2) == 2
    assert services.ensure_partitions(dt.date(2031, 5, 1), 3) == 1


def test_a_station_of_another_county_refuses_a_county_user(make_station, users):
    theirs = make_station(XIXIA)
    with pytest.raises(DomainError):
        services.record_fillings(theirs, [filling("A", at(DAY))], acting_user=users["xingqing"])
    assert not FillingRecord.objects.exists()


@pytest.mark.parametrize("value", ["A\tB", "A\nB", "A\\B", "A\x00B"])
def test_text_fields_refuse_control_characters_and_backslashes(station, value):
    with pytest.raises(services.CylinderError) as refused:
        ingest(station, filling(value, at(DAY)))
    assert refused.value.as_dict()["fillings[0].tag"][0]["rule"] == "tag.characters"


def test_chinese_and_spaces_inside_text_fields_go_through(station):
    ingest(station, filling("标签 01", at(DAY), medium="液化 石油气", operator_certificate="证 1"))
    record = FillingRecord.objects.get()
    assert (record.tag, record.medium, record.operator_certificate) == (
        "标签 01",
        "液化 石油气",
        "证 1",
    )


def test_repeats_inside_one_batch_are_recorded_once(station):
    report = ingest(station, filling("A", at(DAY)), filling("A", at(DAY)))
    assert [r["status"] for r in report.rows] == ["recorded", "duplicate"]
    assert FillingRecord.objects.count() == 1
