"""Day routes for a plan: its teams and candidates turned into `geo.routing` inputs, the solver's
answer stored as routes and stops, stops moved by hand, and the results recorded at each stop.

Every write locks the plan row first, so two supervisors editing one plan take turns, and is
audited. A route never exceeds its team's working day: a move that would is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import LineString, Point
from django.db import transaction
from django.utils import timezone

from accounts import audit, policy
from accounts.models import User
from geo import routing
from geo.functions import present
from registry.models import EquipmentStatus
from registry.models.equipment import LifecycleEventKind
from registry.services import change_equipment_status, record_lifecycle_event

from .exceptions import refuse
from .models import PatrolCandidate, PatrolPlan, PatrolRoute, PatrolStop, PatrolTeam, may_plan

DEFAULTS: dict[str, Any] = {
    # Straight-line speed and the factor for the roads' detours (geo.routing's travel model).
    "PATROL_SPEED_KMH": 35.0,
    "PATROL_DETOUR": 1.3,
    # Minutes on site per kind, for a supervision visit (verify against local practice).
    "PATROL_ON_SITE_MINUTES": {
        "1000": 60,  # boilers
        "2000": 45,  # pressure vessels
        "3000": 30,  # lifts
        "4000": 45,  # cranes
        "5000": 20,  # site vehicles
        "6000": 60,  # amusement rides
        "8000": 60,  # pipelines
        "9000": 90,  # ropeways
    },
    "PATROL_ON_SITE_DEFAULT_MINUTES": 30,
}
MAX_DAYS = 31
MAX_WORKING_HOURS = 12


def value(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def travel_model() -> routing.TravelModel:
    return routing.TravelModel(
        speed_kmh=float(value("PATROL_SPEED_KMH")), detour=float(value("PATROL_DETOUR"))
    )


def on_site_minutes(kind: str) -> float:
    return float(value("PATROL_ON_SITE_MINUTES").get(kind, value("PATROL_ON_SITE_DEFAULT_MINUTES")))


@dataclass(frozen=True)
class TeamSpec:
    """A team as asked for: name, where its day starts and ends, hours, inspectors in it."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    working_minutes: int
    members: tuple[User, ...] = ()


# --------------------------------------------------------------------------- parsing


def _point(raw: Any, field: str) -> tuple[float, float]:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    ):
        refuse(field, "point.shape", "应为 [经度, 纬度] / expected [lon, lat]")
    lon, lat = float(raw[0]), float(raw[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        refuse(field, "point.range", f"坐标超出范围 / coordinates out of range: {lon}, {lat}")
    return lon, lat


def default_office(plan: PatrolPlan) -> tuple[float, float]:
    """Where a team starts when not told: a point inside the plan's area (the agency's office is
    not on file), so every route starts within reach."""
    # The centroid where it lies inside (most counties); the point on the surface, which may sit
    # at an edge, only for shapes that do not hold their centroid.
    centroid = plan.area.centroid
    point = centroid if plan.area.contains(centroid) else plan.area.point_on_surface
    return point.x, point.y


def parse_teams(raw: Any, plan: PatrolPlan, acting_user: User) -> list[TeamSpec]:
    """`{"count": 3, "hours": 8, "start": [lon, lat], "end": [lon, lat], "members": [[ids]…]}`;
    the start defaults to a point inside the area, the end to the start."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"count": raw}
    if not isinstance(raw, dict):
        refuse("teams", "teams.shape", '应为 {"count": 组数, "hours": 小时} / expected an object')
    unknown = set(raw) - {"count", "hours", "start", "end", "members"}
    if unknown:
        refuse("teams", "teams.unknown", f"未知字段 / unknown fields: {', '.join(sorted(unknown))}")
    count = raw.get("count", plan.criteria.get("teams") or 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
        refuse("teams", "teams.range", "组数应为 1–50 / the team count must be 1 to 50")
    hours = raw.get("hours", 8)
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        refuse("teams.hours", "hours.number", "工作时长应为数字 / hours must be a number")
    if not 0 < hours <= MAX_WORKING_HOURS:
        refuse(
            "teams.hours",
            "hours.range",
            f"每日工作时长应大于 0 且不超过 {MAX_WORKING_HOURS} 小时 / a working day lasts more than "
            f"0 and at most {MAX_WORKING_HOURS} hours",
        )
    start = _point(raw["start"], "teams.start") if raw.get("start") else default_office(plan)
    end = _point(raw["end"], "teams.end") if raw.get("end") else start
    members = _members(raw.get("members") or [], count, acting_user)
    return [
        TeamSpec(
            name=f"第{n}组 / Team {n}",
            start=start,
            end=end,
            working_minutes=round(hours * 60),
            members=members[n - 1] if n - 1 < len(members) else (),
        )
        for n in range(1, count + 1)
    ]


def _members(raw: Any, count: int, acting_user: User) -> list[tuple[User, ...]]:
    """Inspectors per team, by user id; only inspectors of the planner's jurisdiction."""
    if not isinstance(raw, list) or len(raw) > count or not all(isinstance(t, list) for t in raw):
        refuse(
            "teams.members", "members.shape", "应为每组的人员编号列表 / expected a list per team"
        )
    wanted = {i for team in raw for i in team}
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in wanted):
        refuse("teams.members", "members.shape", "人员编号应为整数 / user ids are whole numbers")
    found = {
        u.pk: u
        for u in User.objects.visible_to(acting_user).filter(pk__in=wanted, role="inspector")
    }
    if missing := sorted(wanted - set(found)):
        refuse(
            "teams.members",
            "members.unknown",
            f"不是本辖区的检查人员 / not an inspector of your jurisdiction: {missing}",
        )
    return [tuple(found[i] for i in team) for team in raw]


def parse_days(raw: Any, plan: PatrolPlan) -> list[dt.date]:
    """The first `days` working days (Monday–Friday) of the plan's period; all of them, up to
    five, when not given."""
    weekdays = [
        day
        for offset in range((plan.ends_on - plan.starts_on).days + 1)
        if (day := plan.starts_on + dt.timedelta(days=offset)).weekday() < 5
    ]
    if not weekdays:
        refuse("days", "days.none", "计划期内没有工作日 / the period has no working day")
    if raw is None:
        return weekdays[:5]
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DAYS:
        refuse("days", "days.range", f"天数应为 1–{MAX_DAYS} / days must be 1 to {MAX_DAYS}")
    if raw > len(weekdays):
        refuse(
            "days",
            "days.period",
            f"计划期内只有 {len(weekdays)} 个工作日 / the period has {len(weekdays)} working days",
        )
    return weekdays[:raw]


# --------------------------------------------------------------------------- planning


def _locked_plan(plan_id: int, acting_user: User) -> PatrolPlan:
    if not may_plan(acting_user):
        refuse(
            "user", "patrol.not_planner", "只有监察人员可以安排路线 / only supervisors plan routes"
        )
    plan = PatrolPlan.objects.visible_to(acting_user).select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise PatrolPlan.DoesNotExist
    return plan


def place_of(candidate: PatrolCandidate) -> Point | None:
    """Where a candidate is visited: its point, else a point on its pipeline's route."""
    device = candidate.equipment
    if (location := present(device.location)) is not None:
        return location
    route = present(device.route)
    return route.point_on_surface if route is not None else None


@transaction.atomic
def route_plan(
    plan_id: int,
    *,
    teams: Sequence[TeamSpec],
    days: Sequence[dt.date],
    acting_user: User,
    search: routing.SearchSettings = routing.PRODUCTION,
) -> PatrolPlan:
    """Day routes for the plan's candidates (pinned ones must fit; dropped ones never go),
    replacing any routes it had. Refused once a result is recorded at one of its stops."""
    plan = _locked_plan(plan_id, acting_user)
    if PatrolStop.objects.filter(route__plan=plan, recorded_at__isnull=False).exists():
        refuse(
            "plan",
            "plan.results_recorded",
            "已有巡查结果，不能重新排线 / results are recorded: the routes can no longer be replanned",
        )
    candidates = list(plan.candidates.filter(dropped=False).select_related("equipment"))
    places = {c.pk: place_of(c) for c in candidates}
    stops = [
        routing.Stop(
            id=c.pk,
            lon=places[c.pk].x,
            lat=places[c.pk].y,
            service_minutes=on_site_minutes(c.equipment.kind),
            priority=c.score,
            mandatory=c.pinned,
        )
        for c in candidates
        if places[c.pk] is not None
    ]
    if not stops:
        refuse("plan", "patrol.no_candidates", "没有可安排的设备 / no device left to route")
    team_inputs = [
        routing.Team(
            id=n,
            lon=spec.start[0],
            lat=spec.start[1],
            end_lon=spec.end[0],
            end_lat=spec.end[1],
            working_minutes=spec.working_minutes,
        )
        for n, spec in enumerate(teams, start=1)
    ]
    if search is routing.PRODUCTION:
        # A few dozen stops settle in well under a second; 300 use the full limit.
        limit = min(search.time_limit_s, 1.0 + len(stops) / 100)
        search = replace(search, time_limit_s=limit)
    try:
        solved = routing.plan_routes(
            stops, team_inputs, list(days), travel=travel_model(), settings=search
        )
    except routing.RoutingError as error:
        refuse(error.field, error.rule, error.message)

    plan.routes.all().delete()
    plan.teams.all().delete()
    stored_teams = {}
    for n, spec in enumerate(teams, start=1):
        team = PatrolTeam.objects.create(
            plan=plan,
            number=n,
            name=spec.name,
            start=Point(*spec.start, srid=4326),
            end=Point(*spec.end, srid=4326),
            working_minutes=spec.working_minutes,
        )
        team.members.set(spec.members)
        stored_teams[n] = team
    new_stops = []
    for planned in solved.routes:
        if not planned.visits:
            continue
        team = stored_teams[planned.team_id]
        route = PatrolRoute.objects.create(
            plan=plan,
            team=team,
            day=planned.date,
            travel_minutes=planned.travel_minutes,
            service_minutes=planned.service_minutes,
            total_minutes=planned.total_minutes,
            path=_path(team, [places[v.stop_id] for v in planned.visits]),
        )
        new_stops += [
            PatrolStop(
                route=route,
                candidate_id=visit.stop_id,
                sequence=sequence,
                arrival_minutes=visit.arrival_minutes,
                departure_minutes=visit.departure_minutes,
            )
            for sequence, visit in enumerate(planned.visits, start=1)
        ]
    PatrolStop.objects.bulk_create(new_stops)
    summary = {
        "teams": len(teams),
        "days": [d.isoformat() for d in days],
        "hours": teams[0].working_minutes / 60,
        "visited": solved.objective.visited,
        "unscheduled": len(solved.dropped) + len(candidates) - len(stops),
        "total_minutes": round(solved.objective.total_minutes, 1),
        "status": solved.status,
        "seconds": round(solved.wall_seconds, 2),
        # A search stopped by the solution count comes out the same on any machine; one stopped
        # by the clock may not.
        "solutions": solved.solutions,
        "stopped_by": solved.stopped_by,
    }
    plan.criteria = {**plan.criteria, "routing": summary}
    plan.save(update_fields=["criteria"])
    audit.record(
        acting_user, "patrol.routed", plan, after=summary, region_code=plan.region_id or ""
    )
    return plan


@transaction.atomic
def reoptimise_plan(plan_id: int, *, acting_user: User) -> PatrolPlan:
    """Plan the routes again with the plan's teams and days (hand moves are given up)."""
    plan = _locked_plan(plan_id, acting_user)
    teams = list(plan.teams.prefetch_related("members"))
    if not teams:
        refuse("plan", "plan.not_routed", "计划尚未排线 / the plan has no routes yet")
    specs = [
        TeamSpec(
            name=t.name,
            start=(t.start.x, t.start.y),
            end=(t.end.x, t.end.y),
            working_minutes=t.working_minutes,
            members=tuple(t.members.all()),
        )
        for t in teams
    ]
    days = [dt.date.fromisoformat(d) for d in plan.criteria["routing"]["days"]]
    return route_plan(plan.pk, teams=specs, days=days, acting_user=acting_user)


def _path(team: PatrolTeam, places: Sequence[Point]) -> LineString:
    return LineString([team.start.coords, *(p.coords for p in places), team.end.coords], srid=4326)


def retime(route: PatrolRoute) -> None:
    """Recompute a route's times and path from its stops' order, as the solver times them."""
    stops = list(route.stops.select_related("candidate__equipment").order_by("sequence"))
    team = route.team
    places = [place_of(s.candidate) for s in stops]
    points = [team.start, *places, team.end]
    speed = travel_model().speed_kmh
    seconds = routing.travel_seconds(
        np.array([p.x for p in points]),
        np.array([p.y for p in points]),
        np.full(len(points), speed),
        travel_model().detour,
    )
    clock = travel = service = 0.0
    for index, stop in enumerate(stops, start=1):
        leg = seconds[index - 1, index] / 60
        travel += leg
        stop.arrival_minutes = clock + leg
        on_site = on_site_minutes(stop.candidate.equipment.kind)
        service += on_site
        stop.departure_minutes = clock = stop.arrival_minutes + on_site
        stop.sequence = index
    back = seconds[len(points) - 2, len(points) - 1] / 60 if stops else 0.0
    route.travel_minutes = travel + back
    route.service_minutes = service
    route.total_minutes = clock + back
    route.path = _path(team, places)
    PatrolStop.objects.bulk_update(stops, ["sequence", "arrival_minutes", "departure_minutes"])
    route.save(update_fields=["travel_minutes", "service_minutes", "total_minutes", "path"])


@transaction.atomic
def move_stop(stop_id: int, *, route_id: int, position: int, acting_user: User) -> PatrolStop:
    """Put a stop on a route of the same plan at a position (1 = first); both routes are timed
    again, and the move is refused if either would exceed its team's working day."""
    stop = (
        PatrolStop.objects.visible_to(acting_user)
        .select_related("route")
        .filter(pk=stop_id)
        .first()
    )
    if stop is None:
        raise PatrolStop.DoesNotExist
    plan = _locked_plan(stop.route.plan_id, acting_user)
    if stop.recorded_at is not None:
        refuse(
            "stop",
            "stop.recorded",
            "该点已记录结果，不能移动 / a stop with a result stays where it was",
        )
    target = plan.routes.filter(pk=route_id).select_related("team").first()
    if target is None:
        refuse("route", "route.unknown", "该计划没有这条路线 / no such route in this plan")
    source = stop.route
    before = {"route": source.pk, "sequence": stop.sequence}
    others = list(target.stops.exclude(pk=stop.pk).order_by("sequence"))
    if (
        isinstance(position, bool)
        or not isinstance(position, int)
        or not 1 <= position <= len(others) + 1
    ):
        refuse(
            "position",
            "position.range",
            f"位置应为 1–{len(others) + 1} / position must be 1 to {len(others) + 1}",
        )
    others.insert(position - 1, stop)
    stop.route = target
    for sequence, each in enumerate(others, start=1):
        each.sequence = sequence
    PatrolStop.objects.bulk_update(others, ["route", "sequence"])
    for route in {source.pk: source, target.pk: target}.values():
        route.refresh_from_db()
        retime(route)
        if route.total_minutes > route.team.working_minutes:
            refuse(
                "route",
                "route.overtime",
                f"{route.team.name} {route.day} 将用时 {route.total_minutes:.0f} 分钟，超过工作时长 "
                f"{route.team.working_minutes} 分钟 / the day would take {route.total_minutes:.0f} of "
                f"{route.team.working_minutes} minutes",
            )
    if not source.stops.exists():
        source.delete()
    stop.refresh_from_db()
    audit.record(
        acting_user,
        "patrol.stop_moved",
        stop,
        before=before,
        after={"route": target.pk, "sequence": stop.sequence},
        region_code=plan.region_id or "",
    )
    return stop


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class StopResult:
    visited: bool
    findings: str = ""
    order_issued: bool = False
    order_number: str = ""
    sealed: bool = False
    on: dt.date | None = None


@transaction.atomic
def record_stop_result(stop_id: int, result: StopResult, *, acting_user: User) -> PatrolStop:
    """What the visit found: written on the stop, on the device's history (监督检查), and, when the
    device was sealed (查封), as its suspension. Once per stop."""
    stop = (
        PatrolStop.objects.visible_to(acting_user)
        .select_for_update(of=("self",))
        .select_related("route__plan", "route__team", "candidate__equipment")
        .filter(pk=stop_id)
        .first()
    )
    if stop is None:
        raise PatrolStop.DoesNotExist
    policy.require(acting_user, policy.Action.RECORD_VISIT)
    if not may_plan(acting_user) and not stop.route.team.members.filter(pk=acting_user.pk).exists():
        refuse(
            "user", "stop.not_member", "只有本组人员可以记录结果 / only the team records results"
        )
    if stop.recorded_at is not None:
        refuse("stop", "stop.recorded", "该点已记录结果 / this stop already has its result")
    if not result.visited and (result.order_issued or result.sealed):
        refuse(
            "visited",
            "visited.required",
            "未检查不能下达指令或查封 / a visit not made orders nothing",
        )
    if len(result.findings) > 4000 or len(result.order_number) > 40:
        refuse("findings", "findings.length", "内容过长 / too long")
    if result.order_issued and not result.order_number.strip():
        refuse(
            "order_number", "order_number.required", "请填写指令书编号 / give the order's number"
        )
    on = result.on or timezone.localdate()
    if on > timezone.localdate():
        refuse("on", "on.future", "日期不能在将来 / the date is in the future")
    before = audit.snapshot(stop)
    stop.visited = result.visited
    stop.findings = result.findings.strip()
    stop.order_issued = result.order_issued
    stop.order_number = result.order_number.strip()
    stop.sealed = result.sealed
    stop.recorded_at = timezone.now()
    stop.recorded_by = acting_user
    stop.save()
    device = stop.candidate.equipment
    if result.visited:
        record_lifecycle_event(
            device,
            LifecycleEventKind.SUPERVISION,
            acting_user=acting_user,
            under=policy.Action.RECORD_VISIT,
            occurred_on=on,
            details={
                "plan": stop.route.plan_id,
                "stop": stop.pk,
                "findings": stop.findings,
                "order_issued": stop.order_issued,
                "order_number": stop.order_number,
                "sealed": stop.sealed,
            },
        )
    if result.sealed and device.status == EquipmentStatus.IN_USE:
        change_equipment_status(
            device,
            EquipmentStatus.SUSPENDED,
            acting_user=acting_user,
            on=on,
            reason=f"巡查查封 / sealed on patrol (plan {stop.route.plan_id})",
            under=policy.Action.RECORD_VISIT,
        )
    audit.record(
        acting_user,
        "patrol.result_recorded",
        stop,
        before=before,
        region_code=device.region_id,
    )
    return stop
