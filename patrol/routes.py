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
from geo.models import Region
from registry.models import EquipmentStatus
from registry.models.equipment import LifecycleEventKind
from registry.services import change_equipment_status, record_lifecycle_event

from .exceptions import refuse
from .models import PatrolCandidate, PatrolPlan, PatrolRoute, PatrolStop, PatrolTeam, may_plan

DEFAULTS: dict[str, Any] = {
    # Straight-line speeds and the factor for the roads' detours (geo.routing's travel model):
    # in a city's districts (市辖区) and elsewhere (counties, county-level cities, the office).
    "PATROL_URBAN_SPEED_KMH": 25.0,
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
    # The lunch break: taken after the last visit begun before this clock time, for these minutes
    # (on top of the working hours; a plan may give its own minutes, 0 for none).
    "PATROL_BREAK_FROM": "12:00",
    "PATROL_BREAK_MINUTES": 60,
}
DAY_START = "08:30"  # the clock time a route's minute 0 stands for on the pages and sheets
MAX_BREAK_MINUTES = 120
MAX_DAYS = 31
MAX_WORKING_HOURS = 12


def value(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def travel_model() -> routing.TravelModel:
    return routing.TravelModel(
        speed_kmh=float(value("PATROL_SPEED_KMH")), detour=float(value("PATROL_DETOUR"))
    )


def speed_near(region: Region | None) -> float:
    """Travel speed around a stop: slower in a city's districts; an arc runs half its length at
    each end's speed (geo.routing)."""
    if region is not None and region.is_city_district:
        return float(value("PATROL_URBAN_SPEED_KMH"))
    return travel_model().speed_kmh


# A stop's device with its region's name (the speed), without the region's heavy geometries.
STOP_DEVICE = "candidate__equipment__region"
STOP_DEVICE_DEFERRED = (f"{STOP_DEVICE}__boundary", f"{STOP_DEVICE}__seat")


def minutes_after_start(clock: str) -> float:
    """Minutes from the day's start (08:30) to a clock time "HH:MM"."""
    hours, minutes = (int(part) for part in clock.split(":"))
    start_hours, start_minutes = (int(part) for part in DAY_START.split(":"))
    return (hours * 60 + minutes) - (start_hours * 60 + start_minutes)


@dataclass(frozen=True)
class Timed:
    """A day's visits timed with its break: arrivals, departures, the return, the break's start."""

    arrivals: list[float]
    departures: list[float]
    total: float
    break_at: float | None


def with_break(arrivals: Sequence[float], departures: Sequence[float], total: float,
               minutes: float) -> Timed:  # fmt: skip
    """Put the break after the last visit begun before the break's clock time (at the start when
    none is), and move everything after it on. No break when the day is over before that time.

    The solver plans the working minutes without it: the break only shifts the clock, so a day
    still ends within its working minutes plus the break."""
    if minutes <= 0 or not arrivals:
        return Timed(list(arrivals), list(departures), total, None)
    start = minutes_after_start(value("PATROL_BREAK_FROM"))
    morning = [i for i, arrival in enumerate(arrivals) if arrival < start]
    at = departures[morning[-1]] if morning else 0.0
    after = morning[-1] + 1 if morning else 0
    if after == len(arrivals) and total <= start:
        return Timed(list(arrivals), list(departures), total, None)  # home before lunch
    shifted = [t + minutes if i >= after else t for i, t in enumerate(arrivals)]
    left = [t + minutes if i >= after else t for i, t in enumerate(departures)]
    return Timed(shifted, left, total + minutes, at)


def on_site_minutes(kind: str) -> float:
    return float(value("PATROL_ON_SITE_MINUTES").get(kind, value("PATROL_ON_SITE_DEFAULT_MINUTES")))


@dataclass(frozen=True)
class TeamSpec:
    """A team as asked for: name, where its day starts and ends, hours, inspectors in it, and
    where the start came from (`START_SOURCES`)."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    working_minutes: int
    members: tuple[User, ...] = ()
    start_source: str = "given"
    break_minutes: int = 0


# Where a team's day starts when the request names no point, in the order they are tried; the
# plan says which one it used.
START_SOURCES = {
    "given": "指定地点 / the point given",
    "office": "机构办公地点 / the agency's office",
    "seat": "辖区驻地 / the seat of the region",
    "area": "范围中心（未登记办公地点或驻地） / the area's centre (no office or seat on file)",
}


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


def default_start(plan: PatrolPlan, acting_user: User) -> tuple[tuple[float, float], str]:
    """Where a team starts when not told, and which kind of place that is: the planner's agency's
    office, else the seat of the plan's region (or of the agency's), else a point inside the area.
    A geometric centre can lie in empty country, tens of kilometres from where anyone works."""
    agency = acting_user.agency
    if agency is not None and agency.office is not None:
        return (agency.office.x, agency.office.y), "office"
    codes = [plan.region_id, agency.region_id if agency else None]
    # The seats alone: a region's row carries its boundary, heavy for a province.
    seats = dict(
        Region.objects.filter(code__in=[c for c in codes if c], seat__isnull=False).values_list(
            "code", "seat"
        )
    )
    for code in codes:
        if code in seats:
            return (seats[code].x, seats[code].y), "seat"
    # The centroid where it lies inside (most counties); the point on the surface, which may sit
    # at an edge, only for shapes that do not hold their centroid.
    centroid = plan.area.centroid
    point = centroid if plan.area.contains(centroid) else plan.area.point_on_surface
    return (point.x, point.y), "area"


def parse_teams(raw: Any, plan: PatrolPlan, acting_user: User) -> list[TeamSpec]:
    """`{"count": 3, "hours": 8, "start": [lon, lat], "end": [lon, lat], "members": [[ids]…]}`;
    the start defaults to the agency's office or the region's seat (`default_start`), the end to
    the start."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"count": raw}
    if not isinstance(raw, dict):
        refuse("teams", "teams.shape", '应为 {"count": 组数, "hours": 小时} / expected an object')
    unknown = set(raw) - {"count", "hours", "start", "end", "members", "break"}
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
    pause = raw.get("break", value("PATROL_BREAK_MINUTES"))
    if isinstance(pause, bool) or not isinstance(pause, int | float):
        refuse(
            "teams.break", "break.number", "午休时长应为分钟数 / the break is a number of minutes"
        )
    if not 0 <= pause <= MAX_BREAK_MINUTES:
        refuse(
            "teams.break",
            "break.range",
            f"午休应为 0–{MAX_BREAK_MINUTES} 分钟 / the break lasts 0 to {MAX_BREAK_MINUTES} minutes",
        )
    if raw.get("start"):
        start, source = _point(raw["start"], "teams.start"), "given"
    else:
        start, source = default_start(plan, acting_user)
    end = _point(raw["end"], "teams.end") if raw.get("end") else start
    members = _members(raw.get("members") or [], count, acting_user)
    return [
        TeamSpec(
            name=f"第{n}组 / Team {n}",
            start=start,
            end=end,
            working_minutes=round(hours * 60),
            members=members[n - 1] if n - 1 < len(members) else (),
            start_source=source,
            break_minutes=round(pause),
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
            "已有巡查结果，不能更换小组重新排线；请用“重新优化” / results are recorded: the teams "
            "cannot be replaced; re-optimise the stops not yet visited instead",
        )
    plan.routes.all().delete()
    plan.teams.all().delete()
    stored_teams = []
    for n, spec in enumerate(teams, start=1):
        team = PatrolTeam.objects.create(
            plan=plan,
            number=n,
            name=spec.name,
            start=Point(*spec.start, srid=4326),
            end=Point(*spec.end, srid=4326),
            working_minutes=spec.working_minutes,
            break_minutes=spec.break_minutes,
        )
        team.members.set(spec.members)
        stored_teams.append(team)
    candidates = list(
        plan.candidates.filter(dropped=False)
        .select_related("equipment__region")
        .defer("equipment__region__boundary", "equipment__region__seat")
    )
    summary = _plan_days(
        plan,
        stored_teams,
        list(days),
        candidates,
        search=search,
        start_source=teams[0].start_source,
    )
    audit.record(
        acting_user, "patrol.routed", plan, after=summary, region_code=plan.region_id or ""
    )
    return plan


def _plan_days(
    plan: PatrolPlan,
    stored_teams: Sequence[PatrolTeam],
    days: Sequence[dt.date],
    candidates: Sequence[PatrolCandidate],
    *,
    search: routing.SearchSettings,
    start_source: str,
    day_count: int | None = None,
) -> dict:
    """Solve the candidates over the teams' days, store the routes and stops, and keep the
    summary on the plan; the summary."""
    places = {c.pk: place_of(c) for c in candidates}
    stops = [
        routing.Stop(
            id=c.pk,
            lon=places[c.pk].x,
            lat=places[c.pk].y,
            service_minutes=on_site_minutes(c.equipment.kind),
            speed_kmh=speed_near(c.equipment.region),
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
            id=team.number,
            lon=team.start.x,
            lat=team.start.y,
            end_lon=team.end.x,
            end_lat=team.end.y,
            working_minutes=team.working_minutes,
        )
        for team in stored_teams
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

    by_number = {team.number: team for team in stored_teams}
    new_stops = []
    for planned in solved.routes:
        if not planned.visits:
            continue
        team = by_number[planned.team_id]
        timed = with_break(
            [v.arrival_minutes for v in planned.visits],
            [v.departure_minutes for v in planned.visits],
            planned.total_minutes,
            team.break_minutes,
        )
        route = PatrolRoute.objects.create(
            plan=plan,
            team=team,
            day=planned.date,
            travel_minutes=planned.travel_minutes,
            service_minutes=planned.service_minutes,
            total_minutes=timed.total,
            break_at_minutes=timed.break_at,
            path=_path(team, [places[v.stop_id] for v in planned.visits]),
        )
        new_stops += [
            PatrolStop(
                route=route,
                candidate_id=visit.stop_id,
                sequence=sequence,
                arrival_minutes=timed.arrivals[sequence - 1],
                departure_minutes=timed.departures[sequence - 1],
            )
            for sequence, visit in enumerate(planned.visits, start=1)
        ]
    PatrolStop.objects.bulk_create(new_stops)
    first = stored_teams[0]
    summary = {
        "teams": len(stored_teams),
        "days": [d.isoformat() for d in days],
        "day_count": day_count or len(days),
        "hours": first.working_minutes / 60,
        "break_minutes": first.break_minutes,
        "break_from": value("PATROL_BREAK_FROM"),
        "start": {
            "source": start_source,
            "label": START_SOURCES[start_source],
            "point": [first.start.x, first.start.y],
        },
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
    return summary


def days_from(plan: PatrolPlan, today: dt.date, count: int, busy: set[dt.date]) -> list[dt.date]:
    """Up to `count` working days of the plan's period from today on, except the days in `busy`."""
    first = max(today, plan.starts_on)
    return [
        day
        for offset in range((plan.ends_on - first).days + 1)
        if (day := first + dt.timedelta(days=offset)).weekday() < 5 and day not in busy
    ][:count]


@transaction.atomic
def reoptimise_plan(
    plan_id: int,
    *,
    acting_user: User,
    today: dt.date | None = None,
    search: routing.SearchSettings = routing.PRODUCTION,
) -> PatrolPlan:
    """Plan again, with the plan's teams, the stops not yet visited, over working days from today
    (as many as the plan was routed for, within its period). Stops with a result stay where they
    were, and so do their days; hand moves of the others are given up."""
    plan = _locked_plan(plan_id, acting_user)
    teams = list(plan.teams.order_by("number"))
    if not teams:
        refuse("plan", "plan.not_routed", "计划尚未排线 / the plan has no routes yet")
    summary = plan.criteria.get("routing") or {}
    recorded = PatrolStop.objects.filter(route__plan=plan, recorded_at__isnull=False)
    busy = set(recorded.values_list("route__day", flat=True))
    count = summary.get("day_count") or len(summary.get("days") or []) or 1
    days = days_from(plan, today or timezone.localdate(), count, busy)
    if not days:
        refuse(
            "plan",
            "plan.no_days_left",
            f"计划期（至 {plan.ends_on:%Y-%m-%d}）内已无可排的工作日 / no working day is left in the "
            f"plan's period (to {plan.ends_on:%Y-%m-%d}) to route the remaining stops",
        )
    PatrolStop.objects.filter(route__plan=plan, recorded_at__isnull=True).delete()
    plan.routes.filter(stops__isnull=True).delete()
    for kept in plan.routes.select_related("team"):
        retime(kept)  # its unvisited stops are gone
    done = recorded.values("candidate_id")
    candidates = list(
        plan.candidates.filter(dropped=False)
        .exclude(pk__in=done)
        .select_related("equipment__region")
        .defer("equipment__region__boundary", "equipment__region__seat")
    )
    if not candidates:
        refuse("plan", "patrol.no_candidates", "所有设备均已巡查 / every device has been visited")
    source = (summary.get("start") or {}).get("source", "given")
    summary = _plan_days(
        plan, teams, days, candidates, search=search, start_source=source, day_count=count
    )
    audit.record(
        acting_user, "patrol.routed", plan, after=summary, region_code=plan.region_id or ""
    )
    return plan


def _path(team: PatrolTeam, places: Sequence[Point]) -> LineString:
    return LineString([team.start.coords, *(p.coords for p in places), team.end.coords], srid=4326)


def retime(route: PatrolRoute) -> None:
    """Recompute a route's times and path from its stops' order, as the solver times them."""
    stops = list(
        route.stops.select_related(STOP_DEVICE).defer(*STOP_DEVICE_DEFERRED).order_by("sequence")
    )
    team = route.team
    places = [place_of(s.candidate) for s in stops]
    points = [team.start, *places, team.end]
    office = travel_model().speed_kmh
    seconds = routing.travel_seconds(
        np.array([p.x for p in points]),
        np.array([p.y for p in points]),
        np.array([office, *(speed_near(s.candidate.equipment.region) for s in stops), office]),
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
    timed = with_break(
        [s.arrival_minutes for s in stops],
        [s.departure_minutes for s in stops],
        clock + back,
        team.break_minutes,
    )
    for stop, arrival, departure in zip(stops, timed.arrivals, timed.departures, strict=True):
        stop.arrival_minutes, stop.departure_minutes = arrival, departure
    route.travel_minutes = travel + back
    route.service_minutes = service
    route.total_minutes = timed.total
    route.break_at_minutes = timed.break_at
    route.path = _path(team, places)
    PatrolStop.objects.bulk_update(stops, ["sequence", "arrival_minutes", "departure_minutes"])
    route.save(
        update_fields=[
            "travel_minutes", "service_minutes", "total_minutes", "break_at_minutes", "path"
        ]
    )  # fmt: skip


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
        day = route.team.working_minutes + (
            route.team.break_minutes if route.break_at_minutes is not None else 0
        )
        if route.total_minutes > day:
            refuse(
                "route",
                "route.overtime",
                f"{route.team.name} {route.day} 将用时 {route.total_minutes:.0f} 分钟，超过工作时长 "
                f"{day} 分钟 / the day would take {route.total_minutes:.0f} of {day} minutes",
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
    other_day: bool = False  # yes, this stop was planned for another day


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
    planned = stop.route.day
    if on != planned and not result.other_day:
        # Easy to do by mistake on a phone: the wrong day's list is open.
        refuse(
            "on",
            "on.other_day",
            f"该点计划于 {planned:%Y-%m-%d}，结果日期为 {on:%Y-%m-%d}；确认是该点后再记录 / this stop "
            f"is planned for {planned:%Y-%m-%d}, the result is for {on:%Y-%m-%d}: confirm to record "
            "it",
        )
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
