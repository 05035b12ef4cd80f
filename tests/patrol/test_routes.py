"""Day routes of a plan: planned for teams and days, moved by hand, results recorded at stops,
all scoped and audited. The API plans with the production search, which a busy machine may stop by
its clock: tests assert what holds of every plan it can return, and pick moves from the routes as
they came out."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from operator import itemgetter

import numpy as np
import pytest
from django.test import Client

from accounts.models import AuditEntry, Role, User
from geo import routing
from geo.models import Region
from patrol import routes
from patrol.models import PatrolPlan, PatrolRoute, PatrolStop
from patrol.routes import on_site_minutes, speed_near
from registry.models import EquipmentStatus, LifecycleEvent
from tests.conftest import XINGQING, XIXIA
from tests.patrol.conftest import ON
from tests.patrol.moves import insertion_minutes, minutes_between, roomiest_move
from tests.response.conftest import scatter

pytestmark = pytest.mark.django_db

PLANS = "/patrol/api/plans/"
PERIOD = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=13)).isoformat()}  # a Monday


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


def worth_then_minutes(plan: dict, body: dict) -> tuple[int, float]:
    """What the solver maximises, then minimises: visited priority (score + 1 each), route time."""
    visited = {s["candidate"] for r in body["routes"] for s in r["stops"]}
    worth = sum(c["score"] + 1 for c in plan["candidate_list"] if c["id"] in visited)
    return worth, -sum(r["total_minutes"] for r in body["routes"])


def assert_a_plan_of_the_candidates(plan: dict, body: dict) -> None:
    """Every candidate once, on a route or unscheduled; every route in its day, its stored times
    the travel model's, recomputed leg by leg."""
    visited = [s["candidate"] for r in body["routes"] for s in r["stops"]]
    assert len(visited) == len(set(visited))
    unscheduled = [c["id"] for c in body["unscheduled"]]
    assert sorted(visited + unscheduled) == sorted(c["id"] for c in plan["candidate_list"])
    for r in body["routes"]:
        pause = r["break_at_minutes"]
        assert r["total_minutes"] <= r["working_minutes"] + (r["break_minutes"] if pause else 0)
        # Each place with its speed: the stops' own (slower in a city's districts), the office's None.
        places = [(r["start"], None), *((s["location"], s["speed_kmh"]) for s in r["stops"])]
        places.append((r["end"], None))
        clock = 0.0
        for stop, (a, b) in zip(r["stops"], pairwise(places), strict=False):
            if pause is not None and clock == pytest.approx(pause, abs=0.1):
                clock += r["break_minutes"]  # the lunch break, where the route says it is
                pause = None
            clock += minutes_between(a[0], b[0], a[1], b[1])
            assert stop["arrival_minutes"] == pytest.approx(clock, abs=0.1)
            clock += on_site_minutes(stop["equipment"]["kind"])
        if pause is not None and clock == pytest.approx(pause, abs=0.1):
            clock += r["break_minutes"]
        clock += minutes_between(places[-2][0], places[-1][0], places[-2][1], places[-1][1])
        assert r["total_minutes"] == pytest.approx(clock, abs=0.2)


def test_routes_visit_every_candidate_and_respect_the_working_day(supervisors, plan):
    response = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 8}, "days": 2}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # 480 on-site minutes and a few dozen of travel in four 8-hour days: every candidate goes.
    assert body["unscheduled"] == []
    assert_a_plan_of_the_candidates(plan, body)
    assert all(r["working_minutes"] == 480 for r in body["routes"])
    assert {r["day"] for r in body["routes"]} <= {"2026-06-01", "2026-06-02"}
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
        alone = 2 * minutes_between(
            office,
            where,
            None,
            speed_near(Region.objects.get(code=candidate["equipment"]["region"])),
        )
        alone += on_site_minutes(candidate["equipment"]["kind"])
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
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 9}, "days": 1}
    ).json()
    # Four boilers (60 min) and eight lifts (30 min): their on-site time alone fills an 8-hour day;
    # nine hours leave a route room for one more stop at the districts' speed.
    assert len(body["routes"]) == 2
    move = roomiest_move(body["routes"])
    assert move.spare > 1, "the solver left no room for any stop on the other route"
    moving, target, position = move.stop, move.target, move.position
    response = client_for(supervisors["xingqing"]).post(
        f"/patrol/api/stops/{moving['id']}/move/",
        {"route": target["id"], "position": position},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    after = {r["id"]: r for r in response.json()["routes"]}
    moved_to = after[target["id"]]
    assert moved_to["stops"][position - 1]["id"] == moving["id"]
    assert [s["sequence"] for s in moved_to["stops"]] == list(range(1, len(target["stops"]) + 2))
    before = moved_to["stops"][position - 2] if position > 1 else None
    start = before["location"] if before else moved_to["start"]
    assert moved_to["stops"][position - 1]["arrival_minutes"] == pytest.approx(
        (before["departure_minutes"] if before else 0)
        + minutes_between(
            start, moving["location"], before and before["speed_kmh"], moving["speed_kmh"]
        ),
        abs=0.1,
    )
    assert moved_to["total_minutes"] == pytest.approx(
        target["total_minutes"] + insertion_minutes(target, moving, position), abs=0.2
    )
    # The route it left is shorter by what the stop cost it (and gone if it was its only stop).
    left = [s for s in move.source["stops"] if s["id"] != moving["id"]]
    if left:
        was_at = move.source["stops"].index(moving) + 1
        saved = insertion_minutes({**move.source, "stops": left}, moving, was_at)
        assert after[move.source["id"]]["total_minutes"] == pytest.approx(
            move.source["total_minutes"] - saved, abs=0.2
        )
    else:
        assert move.source["id"] not in after
    assert AuditEntry.objects.filter(action="patrol.stop_moved").count() == 1


def test_a_move_past_the_working_day_is_refused_and_nothing_moves(supervisors, plan):
    body = route(
        supervisors["xingqing"], plan["id"], {"teams": {"count": 2, "hours": 3}, "days": 1}
    ).json()
    # Every stop of the other routes onto the fullest one: a stop put in never shortens a route,
    # so the day cannot hold them all once their on-site minutes exceed its time to spare.
    fullest = max(body["routes"], key=lambda r: r["total_minutes"])
    others = [s for r in body["routes"] if r["id"] != fullest["id"] for s in r["stops"]]
    on_site = sum(on_site_minutes(s["equipment"]["kind"]) for s in others)
    assert fullest["total_minutes"] + on_site > fullest["working_minutes"]
    before = {s.pk: (s.route_id, s.sequence) for s in PatrolStop.objects.all()}
    responses = [
        client_for(supervisors["xingqing"]).post(
            f"/patrol/api/stops/{s['id']}/move/",
            {"route": fullest["id"], "position": 1},
            content_type="application/json",
        )
        for s in others
    ]
    refused = [r for r in responses if r.status_code == 400]
    assert refused and refused[0].json()["errors"]["route"][0]["rule"] == "route.overtime"
    for r in PatrolRoute.objects.all():
        assert r.total_minutes <= r.team.working_minutes
    moved = sum(1 for s in PatrolStop.objects.all() if before[s.pk] != (s.route_id, s.sequence))
    assert moved <= len(others) - len(refused) + len(fullest["stops"])


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
              "order_number": "银兴监指〔2026〕7号", "sealed": True,
              "on": body["routes"][0]["day"]}  # fmt: skip
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
        f"/patrol/api/stops/{stop.pk}/result/",
        {"visited": True, "on": stop.route.day.isoformat()},
        content_type="application/json",
    )
    response = route(supervisors["xingqing"], plan["id"], {"days": 2})
    assert response.json()["errors"]["plan"][0]["rule"] == "plan.results_recorded"
    assert PatrolPlan.objects.get(pk=plan["id"]).routes.count() >= 1


def test_reoptimise_gives_back_the_solvers_order(supervisors, plan, monkeypatch):
    # Re-optimising plans from today: here, the plan's first day.
    monkeypatch.setattr(routes.timezone, "localdate", lambda: ON)
    user = supervisors["xingqing"]
    first = route(user, plan["id"], {"teams": {"count": 1}, "days": 1}).json()
    again = client_for(user).post(f"{PLANS}{plan['id']}/reoptimise/")
    assert again.status_code == 200, again.content
    replanned = again.json()
    assert_a_plan_of_the_candidates(plan, replanned)
    assert [r["day"] for r in replanned["routes"]] == [r["day"] for r in first["routes"]]
    team = itemgetter("number", "name", "working_minutes")
    assert list(map(team, replanned["teams"])) == list(map(team, first["teams"]))
    # Every search starts from the same first solution and keeps the best it meets: both plans are
    # at least as good as that start, which patrol's own inputs give when the count stops at 1.
    stored = PatrolPlan.objects.get(pk=plan["id"]).teams.get()
    start = routes.TeamSpec(
        name=stored.name,
        start=(stored.start.x, stored.start.y),
        end=(stored.end.x, stored.end.y),
        working_minutes=stored.working_minutes,
        break_minutes=stored.break_minutes,
    )
    days = [dt.date.fromisoformat(d) for d in first["summary"]["days"]]
    routes.route_plan(
        plan["id"], teams=[start], days=days, acting_user=user, search=routing.counted(1)
    )
    start_body = client_for(user).get(f"{PLANS}{plan['id']}/routes/").json()
    floor = worth_then_minutes(plan, start_body)
    assert worth_then_minutes(plan, first) >= floor
    assert worth_then_minutes(plan, replanned) >= floor
    assert np.isfinite(replanned["routes"][0]["total_minutes"])


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


def test_stops_in_a_citys_districts_are_reached_more_slowly_than_elsewhere(db, settings):
    """兴庆区 is one of Yinchuan's districts (市辖区); 永宁县 a county, 灵武市 a county-level city:
    legs run at the urban speed near the first, the model's near the others and the office."""
    settings.PATROL_URBAN_SPEED_KMH, settings.PATROL_SPEED_KMH = 20.0, 40.0
    speeds = {
        r.name: speed_near(r)
        for r in Region.objects.filter(code__in=["640104", "640121", "640181"])
    }
    assert speeds == {"兴庆区": 20.0, "永宁县": 40.0, "灵武市": 40.0}
    assert speed_near(None) == 40.0
