"""The rule tables as data: licence-number formats, scope grades, statutory time limits."""

from __future__ import annotations

import datetime as dt

import pytest

from licensing import rules
from licensing.models import LicenceKind


@pytest.mark.parametrize("kind", LicenceKind.values)
def test_every_kind_has_a_number_format_whose_example_fits(kind):
    fmt = rules.number_formats()[kind]
    assert rules.number_problem(kind, fmt.example) == ""


@pytest.mark.parametrize(
    ("kind", "number", "fits"),
    [
        ("manufacture", "TS2210045-2027", True),
        ("manufacture", "TS2210045-27", False),  # the year in full
        ("manufacture", "TS221004-2027", False),  # seven digits after TS
        ("manufacture", "TS3210045-2027", False),  # an installation number
        ("installation", "TS3310021-2028", True),
        ("filling", "ts4264012-2027", False),  # the service upper-cases before it checks
    ],
)
def test_numbers_are_checked_against_their_kind(kind, number, fits):
    assert (rules.number_problem(kind, number) == "") is fits


def test_a_scope_must_come_from_the_kinds_grade_table():
    assert rules.scope_problems("manufacture", [{"code": "4000", "grade": "A"}]) == []
    assert rules.scope_problems("manufacture", []) != []
    # Boiler grades exist for manufacture, not a crane grade "Z", nor crane scope for filling.
    assert rules.scope_problems("manufacture", [{"code": "4000", "grade": "Z"}]) != []
    assert rules.scope_problems("filling", [{"code": "4000", "grade": "A"}]) != []


def test_working_day_limits_skip_weekends():
    friday = dt.date(2026, 12, 4)
    assert friday.weekday() == 4
    # Five working days from a Friday: Mon–Fri of the next week.
    assert rules.due_on("submitted", friday) == dt.date(2026, 12, 11)
    # Twenty working days are four weeks.
    assert rules.due_on("under_review", friday) == friday + dt.timedelta(days=28)


def test_calendar_day_limits_and_final_states():
    day = dt.date(2026, 1, 1)
    assert rules.due_on("changes_requested", day) == day + dt.timedelta(days=30)
    assert rules.due_on("approved", day) is None


def test_working_days_skip_public_holidays_and_count_the_weekends_worked_for_them():
    # National Day 2026: 1–7 October off, Saturday 10 October worked in their place.
    tuesday = dt.date(2026, 9, 29)
    # 30 Sep (1); 8 Oct (2), 9 Oct (3), Saturday 10 Oct (4); Monday 12 Oct (5).
    assert rules.due_on("submitted", tuesday) == dt.date(2026, 10, 12)
    assert not rules.is_working_day(dt.date(2026, 10, 1))
    assert rules.is_working_day(dt.date(2026, 10, 10))
    # A year not yet published: Monday to Friday.
    assert rules.due_on("submitted", dt.date(2031, 5, 2)) == dt.date(2031, 5, 9)
