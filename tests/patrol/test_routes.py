"""Day routes of a plan: planned for teams and days, moved by hand, results recorded at stops,
all scoped and audited."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import numpy as np
import pytest
from django.test import Client
from pyproj import Geod

from accounts.models import AuditEntry, Role, User
from patrol.models import PatrolPlan, PatrolRoute, PatrolStop
from patrol.routes import on_site_minutes
from registry.models import EquipmentStatus, LifecycleEvent
from tests.conftest import XINGQING, XIXIA
from tests.patrol.conftest import ON
from tests.response.conftest import scatter

pytestmark = pytest.mark.django_db

PLANS = "/patrol/api/plans/"
PERIOD = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=13)).isoformat()}  # a Monday
GEOD = Geod(ellps="WGS84")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def supervisors(agencies) -> dict[str, User]:
    def user(name, code):
        return User.objects.create_user(
            name, password="pw", agency=agencies[code], role=Role.SUPERVISOR
        )

    return {"xingqing": user("sup_xingqing", XINGQING), "xixia": user("sup_xixia", XIXIA)}


@pytest.fixture
def overdue_devices(device):
    """Twelve overdue lifts and boilers scattered over 兴庆区: every one a candidate."""
    return [
        device(
            XINGQING,
            "3110" if i % 3 else "1100",
            due=ON - dt.timedelta(days=40 + 30 * i),
            location=point,
        )
        for i, point in enumerate(scatter(XINGQING, 12, seed=5))
    ]


@pytest.fixture
def plan(supervisors, overdue_devices) -> dict:
    response = client_for(supervisors["xingqing"]).post(
        PLANS, {"period": PERIOD}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def route(user, plan_id, body):
    return client_for(user).post(f"{PLANS}{plan_id}/routes/", body, content_type="application/json")


def minutes_between(a, b) -> float:
    """The travel model by hand: geodesic metres × 1.3 ÷ 35 km/h."""
    metres = GEOD.inv(a[0], a[1], b[0], b[1])[2]
    return metres * 1.3 / (35_000 / 60)


def test_routes_visit_every_candidate_and_respect_the_working_day(supervisors, plan):
    response = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 8}, "days": 2}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    visited = [s["candidate"] for r in body["routes"] for s in r["stops"]]
    assert sorted(visited) == sorted(c["id"] for c in plan["candidate_list"])
    assert body["unscheduled"] == []
    for r in body["routes"]:
        assert r["total_minutes"] <= 480
        assert r["day"] in ("2026-06-01", "2026-06-02")
        # The stored times are the travel model's: recompute them leg by leg.
        places = [r["start"], *(s["location"] for s in r["stops"]), r["end"]]
        clock = 0.0
        for stop, (a, b) in zip(r["stops"], pairwise(places), strict=False):
            clock += minutes_between(a, b)
            assert stop["arrival_minutes"] == pytest.approx(clock, abs=0.1)
            clock += on_site_minutes("1000" if stop["equipment"]["kind"] == "1000" else "3000")
        clock += minutes_between(places[-2], places[-1])
        assert r["total_minutes"] == pytest.approx(clock, abs=0.2)
    assert AuditEntry.objects.filter(action="patrol.routed").count() == 1


def test_a_short_day_visits_the_riskiest_first(supervisors, plan):
    response = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 1, "hours": 2}, "days": 1}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    [day] = body["routes"]
    visited = {s["candidate"] for s in day["stops"]}
    left = body["unscheduled"]
    assert visited and left
    assert body["summary"]["unscheduled"] == len(left)
    # Risk first: no candidate left out could have filled the day alone with more priority
    # (the solver maximises the visited priority, then minimises time).
    office = day["start"]
    gained = sum(c["score"] + 1 for c in plan["candidate_list"] if c["id"] in visited)
    for candidate in left:
        where = candidate["equipment"]["location"]
        alone = 2 * minutes_between(office, where) + on_site_minutes(candidate["equipment"]["kind"])
        if alone <= 120:
            assert candidate["score"] + 1 <= gained


@pytest.mark.parametrize(
    "body, field, rule",
    [
        ({"teams": {"count": 0}}, "teams", "teams.range"),
        ({"teams": {"count": 2, "hours": 0}}, "teams.hours", "hours.range"),
        ({"teams": {"count": 2, "hours": 0.1}}, "working_minutes", None),
        ({"days": 0}, "days", "days.range"),
        ({"days": 11}, "days", "days.period"),
        ({"teams": {"start": [200, 38]}}, "teams.start", "point.range"),
        ({"teams": {"members": [[999999]]}}, "teams.members", "members.unknown"),
        ({"colour": "red"}, "routes", "routes.unknown"),
    ],
)
def test_bad_routing_input_is_a_400_and_saves_nothing(supervisors, plan, body, field, rule):
    response = route(supervisors["xingqing"], plan["id"], body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    if rule:
        assert errors[field][0]["rule"] == rule
    assert not PatrolRoute.objects.exists()


def test_moving_a_stop_retimes_both_routes(supervisors, plan):
    body = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 8}, "days": 1}
    ).json()
    first, second = body["routes"][:2]
    moving = first["stops"][0]
    response = client_for(supervisors["xingqing"]).post(
        f"/patrol/api/stops/{moving['id']}/move/",
        {"route": second["id"], "position": 1},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    after = {r["id"]: r for r in response.json()["routes"]}
    assert after[second["id"]]["stops"][0]["id"] == moving["id"]
    assert [s["sequence"] for s in after[second["id"]]["stops"]] == list(
        range(1, len(second["stops"]) + 2)
    )
    moved_to = after[second["id"]]
    assert moved_to["stops"][0]["arrival_minutes"] == pytest.approx(
        minutes_between(moved_to["start"], moving["location"]), abs=0.1
    )
    assert AuditEntry.objects.filter(action="patrol.stop_moved").count() == 1


def test_a_move_past_the_working_day_is_refused_and_nothing_moves(supervisors, plan):
    body = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 3}, "days": 1}
    ).json()
    first, second = body["routes"][:2]
    before = {s.pk: (s.route_id, s.sequence) for s in PatrolStop.objects.all()}
    # Every stop of the first route onto the second: the day cannot hold them all.
    responses = [
        client_for(supervisors["xingqing"]).post(
            f"/patrol/api/stops/{s['id']}/move/",
            {"route": second["id"], "position": 1},
            content_type="application/json",
        )
        for s in first["stops"]
    ]
    refused = [r for r in responses if r.status_code == 400]
    assert refused and refused[0].json()["errors"]["route"][0]["rule"] == "route.overtime"
    for r in PatrolRoute.objects.all():
        assert r.total_minutes <= r.team.working_minutes
    moved = sum(1 for s in PatrolStop.objects.all() if before[s.pk] != (s.route_id, s.sequence))
    assert moved <= len(first["stops"]) - len(refused) + len(second["stops"])


def test_a_result_updates_the_device_and_its_history(supervisors, plan, agencies):
    inspector = User.objects.create_user(
        "insp", password="pw", agency=agencies[XINGQING], role=Role.INSPECTOR
    )
    body = route(
        supervisors["xingqing"], plan["id"],
        {"teams": {"count": 1, "hours": 8, "members": [[inspector.pk]]}, "days": 2},
    ).json()  # fmt: skip
    stop = body["routes"][0]["stops"][0]
    result = {"visited": True, "findings": "安全阀超期未校验", "order_issued": True,
              "order_number": "银兴监指〔2026〕7号", "sealed": True}  # fmt: skip
    response = client_for(inspector).post(
        f"/patrol/api/stops/{stop['id']}/result/", result, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["result"]["order_number"] == "银兴监指〔2026〕7号"
    device_id = stop["equipment"]["id"]
    visit = LifecycleEvent.objects.get(equipment_id=device_id, kind="supervision")
    assert visit.details["findings"] == "安全阀超期未校验" and visit.details["sealed"] is True
    from registry.models import Equipment

    assert Equipment.objects.get(pk=device_id).status == EquipmentStatus.SUSPENDED
    # A second record is refused; the open order now counts in the device's risk score.
    again = client_for(inspector).post(
        f"/patrol/api/stops/{stop['id']}/result/", result, content_type="application/json"
    )
    assert again.json()["errors"]["stop"][0]["rule"] == "stop.recorded"
    from patrol import risk

    scored = risk.scored(Equipment.objects.filter(pk=device_id), ON).get()
    assert (scored.open_orders, scored.open_orders_points) == (1, 20)


def test_an_unvisited_stop_orders_nothing(supervisors, plan):
    body = route(supervisors["xingqing"], plan["id"], {"days": 2}).json()
    stop = body["routes"][0]["stops"][0]
    response = client_for(supervisors["xingqing"]).post(
        f"/patrol/api/stops/{stop['id']}/result/",
        {"visited": False, "sealed": True},
        content_type="application/json",
    )
    assert response.json()["errors"]["visited"][0]["rule"] == "visited.required"
    assert PatrolStop.objects.get(pk=stop["id"]).recorded_at is None


def test_inspectors_see_only_their_teams_plans(supervisors, plan, agencies, overdue_devices):
    member = User.objects.create_user(
        "member", password="pw", agency=agencies[XINGQING], role=Role.INSPECTOR
    )
    other = User.objects.create_user(
        "other", password="pw", agency=agencies[XINGQING], role=Role.INSPECTOR
    )
    route(
        supervisors["xingqing"],
        plan["id"],
        {"teams": {"count": 1, "members": [[member.pk]]}, "days": 2},
    )
    assert client_for(member).get(f"{PLANS}{plan['id']}/routes/").status_code == 200
    assert client_for(other).get(f"{PLANS}{plan['id']}/routes/").status_code == 404
    stop = PatrolStop.objects.first()
    assert client_for(other).get(f"/patrol/api/stops/{stop.pk}/result/").status_code == 404
    # Inspectors record, they do not plan.
    assert route(member, plan["id"], {"days": 1}).status_code == 403


def test_another_county_sees_no_route_or_stop(supervisors, plan):
    route(supervisors["xingqing"], plan["id"], {"days": 2})
    stop = PatrolStop.objects.first()
    them = client_for(supervisors["xixia"])
    assert them.get(f"{PLANS}{plan['id']}/routes/").status_code == 404
    assert them.get(f"/patrol/api/stops/{stop.pk}/result/").status_code == 404
    moved = them.post(
        f"/patrol/api/stops/{stop.pk}/move/", {"route": stop.route_id, "position": 1},
        content_type="application/json",
    )  # fmt: skip
    assert moved.status_code == 404


def test_routes_cannot_be_replanned_after_a_result(supervisors, plan):
    route(supervisors["xingqing"], plan["id"], {"days": 2})
    stop = PatrolStop.objects.first()
    client_for(supervisors["xingqing"]).post(
        f"/patrol/api/stops/{stop.pk}/result/", {"visited": True}, content_type="application/json"
    )
    response = route(supervisors["xingqing"], plan["id"], {"days": 2})
    assert response.json()["errors"]["plan"][0]["rule"] == "plan.results_recorded"
    assert PatrolPlan.objects.get(pk=plan["id"]).routes.count() >= 1


def test_reoptimise_gives_back_the_solvers_order(supervisors, plan):
    body = route(supervisors["xingqing"], plan["id"], {"teams": {"count": 1}, "days": 1}).json()
    total = body["routes"][0]["total_minutes"]
    again = client_for(supervisors["xingqing"]).post(f"{PLANS}{plan['id']}/reoptimise/")
    assert again.status_code == 200, again.content
    assert again.json()["routes"][0]["total_minutes"] == pytest.approx(total, rel=0.02)
    assert np.isfinite(total)


def test_a_plan_and_its_routes_are_made_together_or_not_at_all(supervisors, overdue_devices):
    client = client_for(supervisors["xingqing"])
    refused = client.post(
        PLANS,
        {"period": PERIOD, "routing": {"teams": {"count": 1}, "days": 40}},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "days" in refused.json()["errors"]
    assert not PatrolPlan.objects.exists()  # the plan was refused with its routes
    office = [106.2782, 38.4680]
    made = client.post(
        PLANS,
        {"period": PERIOD, "routing": {"teams": {"count": 1, "start": office}, "days": 2}},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    routes_ = client.get(f"{PLANS}{made.json()['id']}/routes/").json()["routes"]
    assert routes_ and all(r["start"] == office and r["end"] == office for r in routes_)
