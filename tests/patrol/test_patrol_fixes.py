"""Issue 19's patrol fixes: teams leave from the agency's office (else the region's seat, else the
area), the day has a lunch break, a result for another day's stop is confirmed first, and
re-optimising after results plans the stops not yet visited from today. Routing is asserted by
properties of every plan the search may return, never by one optimum."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.gis.geos import Point
from django.test import Client

from accounts.models import Role, User
from geo.models import Region
from patrol import routes
from patrol.models import PatrolPlan, PatrolStop
from tests.conftest import XINGQING, inside
from tests.patrol.conftest import ON
from tests.response.conftest import scatter

pytestmark = pytest.mark.django_db

PLANS = "/patrol/api/plans/"
PERIOD = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=13)).isoformat()}  # a Monday
NOON = routes.minutes_after_start("12:00")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def planner(agencies) -> User:
    return User.objects.create_user(
        "sup", password="pw", agency=agencies[XINGQING], role=Role.SUPERVISOR
    )


@pytest.fixture
def plan(planner, device) -> dict:
    for i, point in enumerate(scatter(XINGQING, 12, seed=9)):
        device(XINGQING, "3110" if i % 3 else "1100", due=ON - dt.timedelta(days=50 + 20 * i),
               location=point)  # fmt: skip
    response = client_for(planner).post(PLANS, {"period": PERIOD}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def routed(user, plan_id, body) -> dict:
    response = client_for(user).post(
        f"{PLANS}{plan_id}/routes/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


# --------------------------------------------------------------------------- where teams start


def test_teams_leave_from_the_agencys_office(planner, plan):
    office = Point(106.2905, 38.4720, srid=4326)
    planner.agency.office = office
    planner.agency.save()
    body = routed(planner, plan["id"], {"teams": {"count": 2}, "days": 1})
    assert {tuple(r["start"]) for r in body["routes"]} == {office.coords}
    assert {tuple(r["end"]) for r in body["routes"]} == {office.coords}
    assert body["summary"]["start"]["source"] == "office"
    assert "office" in body["summary"]["start"]["label"]


def test_without_an_office_they_leave_from_the_seat_and_else_from_inside_the_area(planner, plan):
    seat = inside(XINGQING)
    Region.objects.filter(code=XINGQING).update(seat=seat)
    body = routed(planner, plan["id"], {"teams": {"count": 1}, "days": 1})
    assert body["routes"][0]["start"] == pytest.approx(list(seat.coords))
    assert body["summary"]["start"]["source"] == "seat"

    Region.objects.filter(code=XINGQING).update(seat=None)
    body = routed(planner, plan["id"], {"teams": {"count": 1}, "days": 1})
    assert body["summary"]["start"]["source"] == "area"
    area = PatrolPlan.objects.get(pk=plan["id"]).area
    assert area.contains(Point(*body["routes"][0]["start"], srid=4326))


def test_a_point_given_wins_and_is_said_so(planner, plan):
    planner.agency.office = Point(106.2905, 38.4720, srid=4326)
    planner.agency.save()
    body = routed(planner, plan["id"], {"teams": {"count": 1, "start": [106.25, 38.48]}, "days": 1})
    assert body["routes"][0]["start"] == [106.25, 38.48]
    assert body["summary"]["start"]["source"] == "given"


# --------------------------------------------------------------------------- the lunch break


def test_with_break_moves_the_afternoon_on_after_the_last_visit_begun_before_noon():
    # Visits at 09:00, 11:00, 11:50 and 12:50 (minutes from 08:30), a day back at 14:00.
    timed = routes.with_break([30, 150, 200, 260], [90, 180, 240, 300], 330, 60)
    assert timed.break_at == 240  # after the 11:50 visit ends, 12:30
    assert timed.arrivals == [30, 150, 200, 320]
    assert timed.departures == [90, 180, 240, 360]
    assert timed.total == 390
    # Home before noon: no break; no break asked for: none.
    assert routes.with_break([30], [90], 150, 60).break_at is None
    assert routes.with_break([30, 260], [90, 300], 330, 0).arrivals == [30, 260]


def test_no_visit_begins_during_the_break_and_a_day_ends_within_its_hours_and_break(planner, plan):
    body = routed(planner, plan["id"], {"teams": {"count": 1, "hours": 8, "break": 45}, "days": 2})
    assert body["summary"]["break_minutes"] == 45
    crossing = 0
    for r in body["routes"]:
        assert r["break_minutes"] == 45
        pause = r["break_at_minutes"]
        assert r["total_minutes"] <= r["working_minutes"] + (45 if pause is not None else 0) + 0.1
        if pause is None:
            assert r["total_minutes"] <= NOON or not r["stops"]
            continue
        crossing += 1
        for stop in r["stops"]:
            if stop["arrival_minutes"] < NOON:
                assert stop["departure_minutes"] <= pause + 0.1
            else:
                assert stop["arrival_minutes"] >= pause + 45 - 0.1
    assert crossing >= 1  # 12 visits of 30–60 minutes do not all end before noon


@pytest.mark.parametrize("pause", [-5, 121, "long", True])
def test_a_bad_break_is_a_400_naming_it(planner, plan, pause):
    response = client_for(planner).post(
        f"{PLANS}{plan['id']}/routes/", {"teams": {"count": 1, "break": pause}, "days": 1},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    [problem] = response.json()["errors"]["teams.break"]
    assert problem["rule"] in ("break.range", "break.number")


# --------------------------------------------------------------------------- results and days


def result(user, stop_id, **body):
    return client_for(user).post(
        f"/patrol/api/stops/{stop_id}/result/", {"visited": True, **body},
        content_type="application/json",
    )  # fmt: skip


def test_a_result_for_another_days_stop_is_confirmed_first(planner, plan):
    body = routed(planner, plan["id"], {"teams": {"count": 1}, "days": 2})
    first, second = body["routes"][0], body["routes"][1]
    stop = second["stops"][0]
    refused = result(planner, stop["id"], on=first["day"])
    assert refused.status_code == 400
    [problem] = refused.json()["errors"]["on"]
    assert problem["rule"] == "on.other_day" and second["day"] in problem["message"]
    assert PatrolStop.objects.get(pk=stop["id"]).recorded_at is None
    assert result(planner, stop["id"], on=first["day"], other_day=True).status_code == 200
    # Its own day needs no confirmation.
    assert result(planner, first["stops"][0]["id"], on=first["day"]).status_code == 200


def test_reoptimise_after_a_result_plans_the_rest_from_today(planner, plan, monkeypatch):
    body = routed(planner, plan["id"], {"teams": {"count": 1, "hours": 3}, "days": 2})
    day_one = body["routes"][0]
    done = day_one["stops"][0]
    assert result(planner, done["id"], on=day_one["day"]).status_code == 200
    today = ON + dt.timedelta(days=7)  # a week on, the Monday
    monkeypatch.setattr(routes.timezone, "localdate", lambda: today)

    answer = client_for(planner).post(f"{PLANS}{plan['id']}/reoptimise/")
    assert answer.status_code == 200, answer.content
    again = answer.json()
    # The visited stop stays on its day, alone, with its result.
    kept = PatrolStop.objects.get(pk=done["id"])
    assert kept.recorded_at is not None and kept.route.day.isoformat() == day_one["day"]
    assert list(kept.route.stops.values_list("pk", flat=True)) == [done["id"]]
    # Every other route is from today on, in the plan's period, two days at most.
    new_days = {r["day"] for r in again["routes"] if r["day"] != day_one["day"]}
    assert new_days and all(today.isoformat() <= d <= PERIOD["to"] for d in new_days)
    assert len(new_days) <= 2
    # Every candidate once: the visited one, the others routed or left out.
    routed_ids = [s["candidate"] for r in again["routes"] for s in r["stops"]]
    left = [c["id"] for c in again["unscheduled"]]
    assert len(routed_ids) == len(set(routed_ids))
    assert sorted(routed_ids + left) == sorted(c["id"] for c in plan["candidate_list"])


def test_reoptimise_past_the_period_is_refused_and_changes_nothing(planner, plan, monkeypatch):
    routed(planner, plan["id"], {"teams": {"count": 1}, "days": 1})
    before = sorted(PatrolStop.objects.values_list("pk", "route_id", "sequence"))
    monkeypatch.setattr(routes.timezone, "localdate", lambda: ON + dt.timedelta(days=30))
    answer = client_for(planner).post(f"{PLANS}{plan['id']}/reoptimise/")
    assert answer.status_code == 400
    assert answer.json()["errors"]["plan"][0]["rule"] == "plan.no_days_left"
    assert sorted(PatrolStop.objects.values_list("pk", "route_id", "sequence")) == before
