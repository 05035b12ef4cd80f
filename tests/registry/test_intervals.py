"""Inspection intervals: the rule table applied to a device, and month arithmetic at month ends."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from registry.intervals import Rule, RuleBook, add_months
from registry.models import InspectionRule, Variety
from tests.conftest import csv_rulebook, months_later

DATA = Path(__file__).resolve().parents[2] / "registry" / "data"


def csv_rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return csv_rulebook()


# --- the rule table (no database) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("variety", "params", "months"),
    [
        ("3110", {}, 12),  # elevators yearly
        ("3310", {"rise_m": 5}, 12),
        ("4110", {}, 24),  # other cranes: 2 years
        ("4110", {"molten_metal": False}, 24),
        ("4110", {"molten_metal": True}, 12),  # molten metal: a condition beats the bare kind rule
        ("4190", {"molten_metal": True}, 12),
        ("4150", {}, 12),  # metallurgical cranes: the longer prefix 415
        ("4310", {}, 12),  # tower cranes (43)
        ("4310", {"molten_metal": True}, 12),
        ("4410", {}, 12),  # mobile cranes (44)
        ("4860", {}, 12),  # construction hoists
        ("4870", {}, 24),  # simple hoists: other crane
        ("4D00", {}, 24),
        ("1100", {}, 12),
        ("2150", {"safety_grade": 1}, 72),
        ("2150", {"safety_grade": 2}, 72),
        ("2130", {"safety_grade": 3}, 36),
        ("2170", {"safety_grade": 4}, 36),
        ("2150", {}, 36),  # no grade: the pressure-vessel default
        ("2220", {"safety_grade": 1}, 12),  # mobile vessels are not fixed ones
        ("2320", {"medium": "LPG"}, 48),  # LPG cylinders every 4 years: prefix and condition
        ("2320", {"medium": "氧气"}, 36),
        ("2310", {"medium": "LPG"}, 36),  # the LPG rule is for welded cylinders only
        ("2410", {}, 12),
        ("5110", {}, 12),
        ("6A00", {}, 12),
        ("8310", {}, 72),
        ("8310", {"pipeline_grade": "GC3"}, 108),
        ("8310", {"pipeline_grade": "GC1"}, 72),
        ("9120", {}, 12),
    ],
)
def test_regular_interval(book, variety, params, months):
    assert book.interval_months(variety, params) == months


@pytest.mark.parametrize(
    ("variety", "params", "months"),
    [
        ("2150", {"safety_grade": 1}, 36),  # fixed vessels: first inspection within 3 years
        ("2110", {}, 36),
        (
            "8310",
            {"pipeline_grade": "GC3"},
            36,
        ),  # pipelines: first within 3 years whatever the grade
        ("3110", {}, 12),  # no first-inspection rule: the regular one
        ("4110", {"molten_metal": True}, 12),
        ("2220", {}, 12),  # the 21 first rule does not reach mobile vessels
    ],
)
def test_first_interval(book, variety, params, months):
    assert book.interval_months(variety, params, first=True) == months


def test_unknown_kind_has_no_interval(book):
    assert book.interval_months("7110", {}) is None
    assert book.next_due("7110", {}, "pass", dt.date(2026, 1, 1)) is None


@pytest.mark.parametrize("first", [False, True])
def test_failed_inspection_has_no_next_date(book, first):
    assert book.next_due("3110", {}, "fail", dt.date(2026, 1, 1), first=first) is None


@pytest.mark.parametrize("conclusion", ["pass", "conditional"])
def test_next_due_adds_the_interval(book, conclusion):
    assert book.next_due("2150", {"safety_grade": 2}, conclusion, dt.date(2026, 3, 15)) == dt.date(
        2032, 3, 15
    )


def test_most_specific_rule_wins_whatever_the_order():
    rules = [
        Rule("4", {}, False, 24),
        Rule("41", {}, False, 18),
        Rule("415", {}, False, 12),
        Rule("4", {"hot": True}, False, 6),
    ]
    for ordering in (rules, rules[::-1], rules[1:] + rules[:1]):
        book = RuleBook(ordering)
        assert book.interval_months("4150", {}) == 12
        assert book.interval_months("4110", {}) == 18
        assert book.interval_months("4210", {}) == 24
        assert book.interval_months("4210", {"hot": True}) == 6
        assert (
            book.interval_months("4110", {"hot": True}) == 18
        )  # a longer prefix beats a condition


def test_every_condition_must_hold():
    book = RuleBook([Rule("2", {}, False, 36), Rule("2", {"a": 1, "b": 2}, False, 12)])
    assert book.interval_months("2150", {"a": 1, "b": 2}) == 12
    assert book.interval_months("2150", {"a": 1}) == 36
    assert book.interval_months("2150", {"a": 1, "b": 3}) == 36


def test_cached_answers_follow_the_parameters():
    book = RuleBook([Rule("4", {}, False, 24), Rule("4", {"molten_metal": True}, False, 12)])
    answers = [
        book.interval_months("4110", {"molten_metal": flag}) for flag in (True, False, True, None)
    ]
    assert answers == [12, 24, 12, 24]


def test_first_rule_is_ignored_for_regular_intervals():
    book = RuleBook([Rule("21", {}, True, 36)])
    assert book.interval_months("2150", {}) is None
    assert book.interval_months("2150", {}, first=True) == 36


# --- add_months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # leap year
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
        (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
        (dt.date(2025, 12, 15), 1, dt.date(2026, 1, 15)),
        (dt.date(2025, 11, 30), 3, dt.date(2026, 2, 28)),
        (dt.date(2025, 3, 31), -1, dt.date(2025, 2, 28)),
        (dt.date(2026, 1, 10), -13, dt.date(2024, 12, 10)),
        (dt.date(2026, 5, 5), 0, dt.date(2026, 5, 5)),
        (dt.date(2020, 8, 31), 108, dt.date(2029, 8, 31)),
    ],
)
def test_add_months_edge_cases(day, months, expected):
    assert add_months(day, months) == expected


def test_add_months_agrees_with_counting_on_every_day_of_four_years():
    day = dt.date(2023, 1, 1)
    while day < dt.date(2027, 1, 1):
        for months in (1, 12, 24, 36, 48, 72, 108, -1):
            assert add_months(day, months) == months_later(day, months), (day, months)
        day += dt.timedelta(days=1)


# --- the tables loaded after migrate -------------------------------------------------------------


@pytest.mark.django_db
def test_post_migrate_loaded_every_inspection_rule():
    stored = sorted(
        (
            r.variety_prefix,
            json.dumps(r.condition, sort_keys=True),
            r.first,
            r.interval_months,
            r.source,
        )
        for r in InspectionRule.objects.all()
    )
    expected = sorted(
        (
            row["variety_prefix"],
            json.dumps(json.loads(row["condition"]), sort_keys=True),
            row["first"] == "true",
            int(row["interval_months"]),
            row["source"],
        )
        for row in csv_rows("inspection_rules.csv")
    )
    assert stored == expected


@pytest.mark.django_db
def test_rulebook_from_database_answers_like_the_csv(book):
    stored = RuleBook.from_database()
    for variety in Variety.objects.filter(registrable=True).values_list("code", flat=True):
        for params in (
            {},
            {"molten_metal": True},
            {"safety_grade": 1},
            {"safety_grade": 4},
            {"pipeline_grade": "GC3"},
            {"medium": "LPG"},
        ):
            for first in (False, True):
                assert stored.interval_months(variety, params, first=first) == book.interval_months(
                    variety, params, first=first
                )


@pytest.mark.django_db
def test_post_migrate_loaded_every_catalogue_row():
    stored = {
        v.code: (
            v.parent_id or "",
            v.level,
            v.name_zh,
            v.name_en,
            v.registrable,
            v.geometry,
            v.retired,
            v.replaced_by_id or "",
        )
        for v in Variety.objects.all()
    }
    expected = {
        row["code"]: (
            row["parent"],
            row["level"],
            row["name_zh"],
            row["name_en"],
            row["registrable"] == "true",
            row["geometry"],
            row["retired"] == "true",
            row["replaced_by"],
        )
        for row in csv_rows("catalogue.csv")
    }
    assert stored == expected


@pytest.mark.django_db
def test_every_registrable_variety_has_an_interval(book):
    leaves = [
        v
        for v in Variety.objects.filter(registrable=True, retired=False)
        if not v.children.filter(retired=False).exists()
    ]
    assert leaves
    assert [v.code for v in leaves if book.interval_months(v.code, {}) is None] == []
