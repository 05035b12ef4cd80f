"""The risk score: order on a hand-built set, each factor's points, reasons that add up."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from patrol import risk
from registry.models import Equipment
from tests.conftest import XINGQING, XIXIA
from tests.patrol.conftest import BOILER, CRANE, LIFT, ON

W = risk.WEIGHTS


def scores(**filters) -> dict[int, int]:
    return {d.pk: d.score for d in risk.scored(Equipment.objects.filter(**filters), ON)}


def score_of(equipment: Equipment, weights: risk.Weights = W):
    return risk.scored(Equipment.objects.filter(pk=equipment.pk), ON, weights).get()


def test_hand_built_set_ranks_as_worked_out_by_hand(hand_built):
    expected = {
        # overdue 30 + 2 per 30 days (120 days: 4 × 2) + lift 6
        "overdue_lift": 30 + 4 * 2 + 6,
        # overdue with no due date 30 + failed 25 + lift 6
        "failed_lift": 30 + 25 + 6,
        # 26 years old: 16 past the free 10, capped at 15 + boiler 10
        "old_boiler": 15 + 10,
        # two accidents of its own 2 × 15 + crane 8
        "crane": 2 * 15 + 8,
        # its use unit's two other accidents 2 × 5 + lift 6
        "crane_neighbour": 2 * 5 + 6,
    }
    ranked = list(risk.scored(Equipment.objects.filter(region_id=XINGQING).in_service(), ON))
    by_pk = {device.pk: name for name, device in hand_built.items()}
    assert [(by_pk[d.pk], d.score) for d in ranked] == sorted(
        expected.items(), key=lambda item: -item[1]
    )


def test_scoring_is_one_statement(hand_built, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(risk.scored(Equipment.objects.all(), ON))


def test_reasons_add_up_to_the_score_in_both_languages(hand_built):
    for scored in risk.scored(Equipment.objects.all(), ON):
        parts = risk.reasons(scored)
        assert sum(p["points"] for p in parts) == scored.score
        assert all(" / " in p["detail"] for p in parts)


def test_overdue_reason_names_the_days(device):
    scored = score_of(device(due=ON - dt.timedelta(days=120)))
    assert risk.reasons(scored)[0] == {
        "factor": "overdue",
        "points": 38,
        "detail": "逾期 120 天 / 120 days overdue",
    }


BASE = W.kind[LIFT[0] + "000"]  # a plain lift: only its kind counts


@pytest.mark.parametrize(
    ("fields", "added"),
    [
        ({"due": ON - dt.timedelta(days=1)}, W.overdue),
        ({"due": ON - dt.timedelta(days=45)}, W.overdue + W.overdue_per_30_days),
        ({"due": ON - dt.timedelta(days=3000)}, W.overdue + W.overdue_days_cap),
        ({"due": None}, W.overdue),
        ({"due": ON}, 0),  # due today is not yet overdue
        ({"manufactured_on": ON.replace(year=ON.year - 15)}, 5 * W.age_per_year),
        ({"manufactured_on": ON.replace(year=ON.year - 10)}, 0),
        ({"manufactured_on": ON.replace(year=ON.year - 60)}, W.age_cap),
        # no manufacture date: the commissioning date counts
        ({"commissioned_on": ON.replace(year=ON.year - 13)}, 3 * W.age_per_year),
    ],
)
def test_each_fact_moves_the_score_as_documented(device, fields, added):
    assert score_of(device(**fields)).score == BASE + added


@pytest.mark.parametrize(("variety", "points"), [(LIFT, 6), (BOILER, 10), (CRANE, 8)])
def test_kind_weight(device, variety, points):
    assert score_of(device(variety=variety)).kind_points == points


def test_a_failed_last_inspection(device, fail):
    lift = device()
    fail(lift)
    assert score_of(lift).score == BASE + W.failed_last_inspection


def test_a_later_pass_clears_the_failure(device, fail):
    from registry import services

    lift = device()
    fail(lift)
    services.record_inspection(lift, acting_user=None, conclusion="pass", inspected_on=ON)
    Equipment.objects.filter(pk=lift.pk).update(next_inspection_due=ON + dt.timedelta(days=9))
    assert score_of(lift).failed_inspection_points == 0


@pytest.mark.parametrize(("count", "points"), [(1, 15), (3, 45), (4, 45)])
def test_device_accidents_count_up_to_the_cap(device, accident, count, points):
    lift = device()
    for _ in range(count):
        accident(lift)
    assert score_of(lift).device_accidents_points == points


@pytest.mark.parametrize(("count", "points"), [(1, 5), (5, 20)])
def test_accidents_of_the_use_unit_count_without_the_devices_own(device, accident, count, points):
    lift = device()
    neighbour = device(use_unit=lift.use_unit)
    accident(lift)  # the device's own: counted once, under device accidents
    for _ in range(count - 1):
        accident(neighbour)
    accident(unit=lift.use_unit)  # an accident of the unit with no device named
    scored = score_of(lift)
    assert (scored.device_accidents_points, scored.unit_accidents_points) == (15, points)


def test_another_units_accident_does_not_count(device, accident):
    lift, elsewhere = device(), device()
    accident(elsewhere)
    assert score_of(lift).score == BASE


def test_weights_come_from_the_table(device):
    overdue = device(due=ON - dt.timedelta(days=60))
    weights = replace(W, overdue=100, overdue_per_30_days=7, kind={})
    assert score_of(overdue, weights).score == 100 + 2 * 7


def test_only_given_rows_are_scored(hand_built, device):
    theirs = device(XIXIA, due=ON - dt.timedelta(days=500))
    assert theirs.pk not in scores(region_id=XINGQING)
