"""Day routes: which stops each team visits on each working day, and in what order.

A pure algorithm (OR-Tools vehicle routing) that knows stops, teams, days and minutes, nothing of
what is visited. The caller turns its objects into frozen inputs and reads a frozen plan back::

    plan = plan_routes(
        stops=[Stop(id=17, lon=106.27, lat=38.47, service_minutes=45, priority=44), ...],
        teams=[Team(id="A", lon=106.23, lat=38.49, working_minutes=480), ...],
        days=[date(2026, 6, 1), date(2026, 6, 2)],      # or a count: days=2
        travel=TravelModel(speed_kmh=35, detour=1.3),   # optional
        settings=PRODUCTION,                            # optional: the search and its time limit
    )
    for route in plan.routes:            # one per (team, day), in team then day order
        route.team_id, route.day, route.date, route.total_minutes
        for visit in route.visits:       # in visiting order
            visit.stop_id, visit.arrival_minutes, visit.departure_minutes
    plan.dropped                         # stop ids that fit in no day, lowest priority first
    plan.objective, plan.status, plan.wall_seconds

Bad input raises ``RoutingError(field, rule, message)``, a ValueError whose ``field`` is one of
``stops``, ``teams``, ``days``, ``working_minutes``, ``travel``, ``time_limit``, ``settings``; the message is
"中文 / English" for the user. The patrol app turns it into its own 400.

The model
- Travel: the geodesic distance on the WGS84 ellipsoid (pyproj.Geod, vectorised over all pairs)
  × ``detour`` ÷ speed. A stop may carry its own ``speed_kmh`` (a town centre is slower than open
  road); an arc runs half its length at each end's speed (the team's office at the model's speed),
  so times stay symmetric. Times are whole seconds inside the solver.
- Each (team, day) is one vehicle leaving the team's start and ending at its end point (the same
  office by default), with the team's working minutes as its limit on travel + on-site time.
  Arrival and departure minutes count from the start of that day's route.
- Priority: leaving a stop out costs ``BIG × (priority + 1)``, BIG being more than the time of all
  routes together. The plan therefore first maximises the sum of (priority + 1) over the visited
  stops (a stop is never given up for a lower-priority one when a swap fits; several lower ones
  may together outweigh a higher one) and only then the total route time, over the same stops.
- Mandatory (pinned) stops cannot be left out: one that fits in no team's day on its own, or a set
  that the search cannot fit in the days, is refused with ``stops``/``mandatory_*``.
- Earlier days for riskier stops: the days of one team share their start, end and length, so the
  team's routes are put in day order by their priorities (the route holding the riskiest stop
  first, ties by the next), which costs no minute of travel.

The search (``SearchSettings``): a savings first solution, then guided local search until
``solution_limit`` solutions or ``time_limit_s``, whichever comes first. The count gives the same
plan on any machine, however busy; the clock is the safety net that bounds a request. ``PRODUCTION``
stops at 1,000 solutions or 4 s: plans of a few dozen stops reach the count first, having found
their best plan within the first few hundred solutions; larger ones reach the clock, so the count
costs them nothing (300 stops for 3 teams take 4.1 s of wall time on a 2-core machine). On bench/patrol.py's county instances its route
time is within 0.2–0.6 % of 60 s runs (``REFERENCE``, the same search run longer, and guided local
search from a parallel cheapest-insertion start) when every stop fits; when they do not, it visits
0.1–0.2 % less priority than the better 60 s run. Savings did best of the starts tried within 4 s
(savings, parallel and local cheapest insertion, path cheapest arc); more operators, narrower
neighbour lists, other GLS lambdas, tabu search, simulated annealing or iterated local search did
no better in the same time: 4 s hardly reaches the first local optimum, so the first solution
decides. ``counted(n)`` is a search stopped by the count alone (the clock far away): what tests use.

Instances of a handful of stops come out optimal (tests/geo/test_routing.py checks against brute
force with the production count).
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from numpy.typing import NDArray
from pyproj import Geod

__all__ = [
    "PRODUCTION",
    "REFERENCE",
    "Objective",
    "Plan",
    "Route",
    "RoutingError",
    "SearchSettings",
    "Stop",
    "Team",
    "TravelModel",
    "Visit",
    "counted",
    "geodesic_matrix",
    "plan_routes",
    "travel_seconds",
]

GEOD = Geod(ellps="WGS84")
MAX_PRIORITY = 1_000_000
# Penalties and costs are int64 in OR-Tools; leave headroom for its own sums.
MAX_COST = 2**60


class RoutingError(ValueError):
    """Input a plan cannot be made from; ``field`` and ``rule`` say which part and why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Stop:
    """A place to visit: where, minutes on site, priority (a whole score ≥ 0), pinned or not."""

    id: Hashable
    lon: float
    lat: float
    service_minutes: float
    priority: int = 0
    mandatory: bool = False
    speed_kmh: float | None = None  # travel speed near this stop; None: the model's speed


@dataclass(frozen=True)
class Team:
    """A team: where its day starts and ends (its office unless told), minutes in a working day."""

    id: Hashable
    lon: float
    lat: float
    working_minutes: float = 480
    end_lon: float | None = None
    end_lat: float | None = None

    @property
    def end(self) -> tuple[float, float]:
        if self.end_lon is None or self.end_lat is None:
            return self.lon, self.lat
        return self.end_lon, self.end_lat


@dataclass(frozen=True)
class TravelModel:
    """Straight-line geodesic distance × detour ÷ speed."""

    speed_kmh: float = 35.0
    detour: float = 1.3


@dataclass(frozen=True)
class SearchSettings:
    """How OR-Tools searches and when it stops: after ``solution_limit`` solutions (a count, the
    same plan on any machine) or at ``time_limit_s`` (always set), whichever comes first."""

    time_limit_s: float = 4.0
    first_solution: str = "SAVINGS"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    lns_time_limit_s: float | None = None  # None: the whole time limit (see _search_parameters)
    solution_limit: int | None = None  # None: the clock alone
    # Local search operators switched on beyond OR-Tools' defaults (names without "use_").
    operators: tuple[str, ...] = ()


CLOCK_TOLERANCE = 0.95  # see _stopped_by
PRODUCTION = SearchSettings(time_limit_s=4.0, solution_limit=1000)
REFERENCE = SearchSettings(time_limit_s=60.0)  # what bench/patrol.py measures against


def counted(solutions: int, *, base: SearchSettings = PRODUCTION) -> SearchSettings:
    """The search stopped by a solution count alone; its clock (10 minutes) only guards a hang."""
    return replace(base, solution_limit=solutions, time_limit_s=600.0)


@dataclass(frozen=True)
class Visit:
    stop_id: Hashable
    arrival_minutes: float  # from the start of the day's route
    departure_minutes: float
    travel_minutes: float  # from the previous stop (or the start)
    service_minutes: float


@dataclass(frozen=True)
class Route:
    """One team's day: its visits in order and its minutes (0 everywhere when it stays home)."""

    team_id: Hashable
    day: int  # 0-based index into the days
    date: date | None
    visits: tuple[Visit, ...]
    travel_minutes: float  # including the way back to the end point
    service_minutes: float
    total_minutes: float  # arrival back at the end point
    working_minutes: float
    priority: int  # sum over the visits


@dataclass(frozen=True)
class Objective:
    visited: int
    dropped: int
    visited_priority: int
    dropped_priority: int
    total_minutes: float
    travel_minutes: float
    service_minutes: float
    cost: int  # OR-Tools' objective: route seconds + penalties of the dropped stops


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    dropped: tuple[Hashable, ...]
    objective: Objective
    status: str  # OR-Tools' routing status, e.g. "success", "optimal"
    solutions: int  # solutions the search went through, the first one included
    stopped_by: str  # "solution_limit" (the same plan on any machine), "time_limit" or "exhausted"
    wall_seconds: float  # everything: checks, matrix, model, search, read-back
    matrix_seconds: float
    search_seconds: float


def geodesic_matrix(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Metres between every pair of points on the WGS84 ellipsoid (symmetric, zero diagonal)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    size = len(lon)
    i, j = np.triu_indices(size, k=1)
    _, _, metres = GEOD.inv(lon[i], lat[i], lon[j], lat[j])
    matrix = np.zeros((size, size))
    matrix[i, j] = metres
    matrix[j, i] = metres
    return matrix


def travel_seconds(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    speed_kmh: NDArray[np.float64],
    detour: float,
) -> NDArray[np.int64]:
    """Whole seconds between every pair: geodesic metres × detour, half the way at each end's speed."""
    metres = geodesic_matrix(lon, lat) * detour
    seconds_per_metre = 3.6 / np.asarray(speed_kmh, dtype=np.float64)  # 1 km/h = 1/3.6 m/s
    per_pair = (seconds_per_metre[:, None] + seconds_per_metre[None, :]) / 2
    return np.rint(metres * per_pair).astype(np.int64)


def plan_routes(
    stops: Sequence[Stop],
    teams: Sequence[Team],
    days: int | Sequence[date],
    *,
    travel: TravelModel = TravelModel(),
    settings: SearchSettings = PRODUCTION,
) -> Plan:
    """Day routes per team that visit the highest-priority stops that fit, in the least time."""
    from ortools.constraint_solver import pywrapcp  # heavy: only where a plan is made

    started = time.perf_counter()
    dates = _check(stops, teams, days, travel, settings)
    day_count = len(dates)
    n, team_count = len(stops), len(teams)

    # Nodes: the stops, then each team's start, then each team's end.
    lon = np.array([s.lon for s in stops] + [t.lon for t in teams] + [t.end[0] for t in teams])
    lat = np.array([s.lat for s in stops] + [t.lat for t in teams] + [t.end[1] for t in teams])
    speed = np.array(
        [s.speed_kmh or travel.speed_kmh for s in stops] + [travel.speed_kmh] * (2 * team_count)
    )
    matrix_started = time.perf_counter()
    seconds = travel_seconds(lon, lat, speed, travel.detour)
    matrix_seconds = time.perf_counter() - matrix_started
    service = np.zeros(n + 2 * team_count, dtype=np.int64)
    service[:n] = [round(s.service_minutes * 60) for s in stops]
    capacity = [round(t.working_minutes * 60) for t in teams]
    _check_fit(stops, teams, seconds, service, capacity, day_count)

    vehicles = [(t, d) for t in range(team_count) for d in range(day_count)]
    manager = pywrapcp.RoutingIndexManager(
        n + 2 * team_count,
        len(vehicles),
        [n + t for t, _ in vehicles],
        [n + team_count + t for t, _ in vehicles],
    )
    model = pywrapcp.RoutingModel(manager)
    # Time spent on an arc: the on-site minutes at its tail, then the way to its head.
    transit = model.RegisterTransitMatrix((seconds + service[:, None]).tolist())
    model.SetArcCostEvaluatorOfAllVehicles(transit)
    model.AddDimensionWithVehicleCapacity(
        transit, 0, [capacity[t] for t, _ in vehicles], True, "time"
    )
    time_dimension = model.GetDimensionOrDie("time")

    # BIG outweighs the time of every route together, so no saving of minutes buys a drop.
    big = sum(capacity[t] for t, _ in vehicles) + 1
    optional_worth = sum(s.priority + 1 for s in stops if not s.mandatory)
    # A pinned stop is optional to the solver too, but dearer than every other stop together: the
    # search always has a plan to improve, and a pinned stop it could not place is named after it.
    mandatory_penalty = big * (optional_worth + 1)
    if mandatory_penalty * (n + 1) >= MAX_COST:
        raise RoutingError(
            "stops",
            "too_large",
            "优先级或工作时长过大 / priorities or working days too large to weigh against each other",
        )
    for node, stop in enumerate(stops):
        penalty = mandatory_penalty if stop.mandatory else big * (stop.priority + 1)
        model.AddDisjunction([manager.NodeToIndex(node)], penalty)

    parameters = _search_parameters(settings)
    search_started = time.perf_counter()
    solution = model.SolveWithParameters(parameters)
    search_seconds = time.perf_counter() - search_started
    status = _status_name(model.status())
    solutions = model.solver().Solutions()
    if solution is None:
        raise RoutingError(
            "time_limit",
            "no_solution",
            f"时限内未找到方案 / no plan found within {settings.time_limit_s} s ({status})",
        )

    routes_by_team: list[list[tuple[list[Visit], int, int, int]]] = [[] for _ in teams]
    visited: set[int] = set()
    for vehicle, (team, _) in enumerate(vehicles):
        visits: list[Visit] = []
        index = model.Start(vehicle)
        previous = manager.IndexToNode(index)
        travelled = 0
        index = solution.Value(model.NextVar(index))
        while not model.IsEnd(index):
            node = manager.IndexToNode(index)
            visited.add(node)
            arrival = solution.Value(time_dimension.CumulVar(index))
            travelled += int(seconds[previous, node])
            visits.append(
                Visit(
                    stop_id=stops[node].id,
                    arrival_minutes=arrival / 60,
                    departure_minutes=(arrival + service[node]) / 60,
                    travel_minutes=int(seconds[previous, node]) / 60,
                    service_minutes=int(service[node]) / 60,
                )
            )
            previous = node
            index = solution.Value(model.NextVar(index))
        total = 0
        if visits:
            travelled += int(seconds[previous, manager.IndexToNode(index)])
            total = solution.Value(time_dimension.CumulVar(index))
        routes_by_team[team].append((visits, travelled, total, vehicle))

    if any(stops[node].mandatory for node in range(n) if node not in visited):
        raise RoutingError(
            "stops",
            "mandatory_infeasible",
            "必查点在工作日内排不下 / the mandatory stops do not fit in the teams' working days",
        )

    priority_of = {stop.id: stop.priority for stop in stops}
    routes: list[Route] = []
    for team_index, team in enumerate(teams):
        # Same start, end and length every day: the riskiest day goes first at no cost in time.
        ordered = sorted(
            routes_by_team[team_index],
            key=lambda r: sorted((priority_of[v.stop_id] for v in r[0]), reverse=True),
            reverse=True,
        )
        for day, (visits, travelled, total, _) in enumerate(ordered):
            on_site = sum(v.service_minutes for v in visits)
            routes.append(
                Route(
                    team_id=team.id,
                    day=day,
                    date=dates[day],
                    visits=tuple(visits),
                    travel_minutes=travelled / 60,
                    service_minutes=on_site,
                    total_minutes=total / 60,
                    working_minutes=team.working_minutes,
                    priority=sum(priority_of[v.stop_id] for v in visits),
                )
            )

    dropped = sorted(
        (stop for node, stop in enumerate(stops) if node not in visited),
        key=lambda s: s.priority,
    )
    objective = Objective(
        visited=len(visited),
        dropped=len(dropped),
        visited_priority=sum(stops[node].priority for node in visited),
        dropped_priority=sum(s.priority for s in dropped),
        total_minutes=sum(r.total_minutes for r in routes),
        travel_minutes=sum(r.travel_minutes for r in routes),
        service_minutes=sum(r.service_minutes for r in routes),
        cost=solution.ObjectiveValue(),
    )
    return Plan(
        routes=tuple(routes),
        dropped=tuple(s.id for s in dropped),
        objective=objective,
        status=status,
        solutions=solutions,
        stopped_by=_stopped_by(settings, solutions, search_seconds),
        wall_seconds=time.perf_counter() - started,
        matrix_seconds=matrix_seconds,
        search_seconds=search_seconds,
    )


def _status_name(status: int) -> str:
    """OR-Tools' routing status as a word: "success", "optimal", "fail_timeout", …"""
    from ortools.constraint_solver import routing_enums_pb2

    names = {value: name for name, value in routing_enums_pb2.RoutingSearchStatus.Value.items()}
    return names.get(status, str(status)).removeprefix("ROUTING_").lower()


def _stopped_by(settings: SearchSettings, solutions: int, search_seconds: float) -> str:
    """Which rule ended the search: the solution count, the clock, or neither (it ran out)."""
    if settings.solution_limit is not None and solutions >= settings.solution_limit:
        return "solution_limit"
    # OR-Tools reads its own clock, and only between moves: it may stop a hair before ours reads
    # the limit. A search that ends that close to its limit was stopped by it.
    if search_seconds >= settings.time_limit_s * CLOCK_TOLERANCE:
        return "time_limit"
    return "exhausted"


def _search_parameters(settings: SearchSettings):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    from ortools.util.optional_boolean_pb2 import BOOL_TRUE

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, settings.first_solution
    )
    parameters.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, settings.metaheuristic
    )
    parameters.time_limit.FromMilliseconds(max(1, round(settings.time_limit_s * 1000)))
    # OR-Tools gives each neighbour's completion 100 ms of the clock by default: a second clock that
    # could steer a counted search on a stalled machine. Here the completion is a propagation (no
    # slack, no soft bounds) and never nears it; it gets the whole limit instead.
    lns_seconds = settings.lns_time_limit_s or settings.time_limit_s
    parameters.lns_time_limit.FromMilliseconds(max(1, round(lns_seconds * 1000)))
    if settings.solution_limit is not None:
        parameters.solution_limit = settings.solution_limit
    for operator in settings.operators:
        setattr(parameters.local_search_operators, f"use_{operator}", BOOL_TRUE)
    return parameters


def _check(
    stops: Sequence[Stop],
    teams: Sequence[Team],
    days: int | Sequence[date],
    travel: TravelModel,
    settings: SearchSettings,
) -> list[date | None]:
    """Refuse what no plan can be made from; the dates of the days (None when counted)."""
    if not stops:
        raise RoutingError("stops", "required", "没有巡查点 / no stops to plan")
    if not teams:
        raise RoutingError("teams", "required", "没有巡查组 / no teams: at least one is needed")
    if isinstance(days, bool) or not isinstance(days, int | Sequence):
        raise RoutingError(
            "days", "type", "天数应为整数或日期列表 / days: a count or a list of dates"
        )
    if isinstance(days, int):
        if days < 1:
            raise RoutingError("days", "required", "至少一天 / at least one working day is needed")
        dates: list[date | None] = [None] * days
    else:
        if not days:
            raise RoutingError("days", "required", "至少一天 / at least one working day is needed")
        if not all(isinstance(d, date) for d in days):
            raise RoutingError("days", "type", "日期无效 / days must be dates")
        if len(set(days)) != len(days):
            raise RoutingError("days", "unique", "日期重复 / a date is given twice")
        dates = sorted(days)
    if not (math.isfinite(settings.time_limit_s) and settings.time_limit_s > 0):
        raise RoutingError("time_limit", "positive", "时限应大于 0 / the time limit must be > 0 s")
    _check_settings(settings)
    if not (math.isfinite(travel.speed_kmh) and travel.speed_kmh > 0):
        raise RoutingError("travel", "speed", "车速应大于 0 / the speed must be > 0 km/h")
    if not (math.isfinite(travel.detour) and travel.detour >= 1):
        raise RoutingError("travel", "detour", "绕行系数应 ≥ 1 / the detour factor must be ≥ 1")

    if len({s.id for s in stops}) != len(stops):
        raise RoutingError("stops", "unique", "巡查点重复 / a stop id is given twice")
    for stop in stops:
        if not _on_earth(stop.lon, stop.lat):
            raise RoutingError(
                "stops",
                "coordinates",
                f"坐标超出范围 / stop {stop.id}: lon {stop.lon}, lat {stop.lat} out of range",
            )
        if not (math.isfinite(stop.service_minutes) and stop.service_minutes >= 0):
            raise RoutingError(
                "stops", "service_minutes", f"现场时间应 ≥ 0 / stop {stop.id}: on-site minutes ≥ 0"
            )
        if isinstance(stop.priority, bool) or not isinstance(stop.priority, int):
            raise RoutingError(
                "stops", "priority", f"优先级应为整数 / stop {stop.id}: priority a whole number"
            )
        if not 0 <= stop.priority <= MAX_PRIORITY:
            raise RoutingError(
                "stops",
                "priority",
                f"优先级应在 0–{MAX_PRIORITY} / stop {stop.id}: priority 0–{MAX_PRIORITY}",
            )
        if stop.speed_kmh is not None and not (
            math.isfinite(stop.speed_kmh) and stop.speed_kmh > 0
        ):
            raise RoutingError("travel", "speed", f"车速应大于 0 / stop {stop.id}: speed > 0 km/h")

    if len({t.id for t in teams}) != len(teams):
        raise RoutingError("teams", "unique", "巡查组重复 / a team id is given twice")
    for team in teams:
        if not (_on_earth(team.lon, team.lat) and _on_earth(*team.end)):
            raise RoutingError(
                "teams",
                "coordinates",
                f"起终点坐标超出范围 / team {team.id}: start or end out of range",
            )
        if not (math.isfinite(team.working_minutes) and team.working_minutes > 0):
            raise RoutingError(
                "working_minutes",
                "positive",
                f"工作时长应大于 0 / team {team.id}: working minutes must be > 0",
            )
    return dates


def _check_settings(settings: SearchSettings) -> None:
    """Refuse search settings OR-Tools does not know, before they reach it."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    strategies = frozenset(routing_enums_pb2.FirstSolutionStrategy.Value.keys())
    metaheuristics = frozenset(routing_enums_pb2.LocalSearchMetaheuristic.Value.keys())
    operators = pywrapcp.DefaultRoutingSearchParameters().local_search_operators
    known = (
        settings.first_solution in strategies
        and settings.metaheuristic in metaheuristics
        and all(hasattr(operators, f"use_{name}") for name in settings.operators)
        and (settings.lns_time_limit_s is None or settings.lns_time_limit_s > 0)
        and (settings.solution_limit is None or settings.solution_limit >= 1)
    )
    if not known:
        raise RoutingError(
            "settings", "unknown", f"搜索参数无效 / invalid search settings: {settings}"
        )


def _check_fit(
    stops: Sequence[Stop],
    teams: Sequence[Team],
    seconds: NDArray[np.int64],
    service: NDArray[np.int64],
    capacity: list[int],
    day_count: int,
) -> None:
    """Refuse a working day too short for every stop, and a pinned stop no day can hold."""
    n, team_count = len(stops), len(teams)
    starts = np.arange(n, n + team_count)
    ends = starts + team_count
    # Out from the start, on site, back to the end, per stop (rows) and team (columns).
    alone = seconds[:n, starts] + service[:n, None] + seconds[:n, ends]
    fits = alone <= np.array(capacity)[None, :]
    if not fits.any():
        raise RoutingError(
            "working_minutes",
            "too_short",
            "工作时长不够任何一个巡查点 / the working day is too short for any single stop "
            "(travel there and back plus on-site time)",
        )
    for node in np.flatnonzero(~fits.any(axis=1)):
        if stops[node].mandatory:
            raise RoutingError(
                "stops",
                "mandatory_unreachable",
                f"必查点 {stops[node].id} 一天内往返不及 / mandatory stop {stops[node].id} does "
                "not fit in any team's working day on its own",
            )
    # On-site time alone already over every day of every team: no search needed to say no.
    mandatory_service = sum(int(service[i]) for i, s in enumerate(stops) if s.mandatory)
    if mandatory_service > sum(capacity) * day_count:
        raise RoutingError(
            "stops",
            "mandatory_infeasible",
            "必查点在工作日内排不下 / the mandatory stops do not fit in the teams' working days",
        )


def _on_earth(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
