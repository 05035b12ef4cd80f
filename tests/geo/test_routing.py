"""geo.routing against brute force over every order, subset and assignment of small instances,
and its travel matrix against pyproj.Geod.inv pair by pair. Searches stop at a solution count, never
by the clock: their plans are the same on a busy machine."""

from __future__ import annotations

import math
from datetime import date
from functools import cache
from itertools import combinations, permutations, product

import numpy as np
import pytest
from pyproj import Geod

from geo.routing import (
    CLOCK_TOLERANCE,
    PRODUCTION,
    Plan,
    RoutingError,
    SearchSettings,
    Stop,
    Team,
    TravelModel,
    counted,
    geodesic_matrix,
    plan_routes,
    travel_seconds,
)

GEOD = Geod(ellps="WGS84")
OFFICE = (106.23, 38.49)
# The production search stopped by its solution count alone, with no clock in the way.
COUNTED = counted(PRODUCTION.solution_limit)
TRAVEL = TravelModel(speed_kmh=40, detour=1.3)


def scattered(count: int, seed: int, km: float = 15) -> list[Stop]:
    """Stops within ±km of the office, whole on-site minutes 10–60, priorities 0–50."""
    rng = np.random.default_rng(seed)
    return [
        Stop(
            id=f"s{i}",
            lon=OFFICE[0] + rng.uniform(-km, km) / 87.2,
            lat=OFFICE[1] + rng.uniform(-km, km) / 110.6,
            service_minutes=int(rng.integers(10, 61)),
            priority=int(rng.integers(0, 51)),
            speed_kmh=float(rng.choice([25.0, 50.0])),
        )
        for i in range(count)
    ]


class Reference:
    """Route seconds computed apart from the solver: every order of every subset, from one matrix."""

    def __init__(self, stops: list[Stop], teams: list[Team], travel: TravelModel = TRAVEL):
        self.stops, self.teams = stops, teams
        lon = [s.lon for s in stops] + [t.lon for t in teams] + [t.end[0] for t in teams]
        lat = [s.lat for s in stops] + [t.lat for t in teams] + [t.end[1] for t in teams]
        speed = [s.speed_kmh or travel.speed_kmh for s in stops] + [travel.speed_kmh] * (
            2 * len(teams)
        )
        self.seconds = travel_seconds(np.array(lon), np.array(lat), np.array(speed), travel.detour)
        self.service = [round(s.service_minutes * 60) for s in stops]

    @cache  # noqa: B019 - one Reference per test
    def best(self, team: int, subset: frozenset[int]) -> int:
        """Least seconds for the team to visit exactly these stops in one day (inf: none fits)."""
        if not subset:
            return 0
        start, end = len(self.stops) + team, len(self.stops) + len(self.teams) + team
        best = math.inf
        for order in permutations(subset):
            path = (start, *order, end)
            seconds = sum(int(self.seconds[a, b]) for a, b in zip(path, path[1:], strict=False))
            best = min(best, seconds + sum(self.service[i] for i in order))
        return best if best <= round(self.teams[team].working_minutes * 60) else math.inf

    def worth(self, subset) -> int:
        return sum(self.stops[i].priority + 1 for i in subset)


def solve(stops: list[Stop], teams: list[Team], days, settings=COUNTED) -> Plan:
    """The plan of a counted search; the count, not the clock, must have stopped it."""
    plan = plan_routes(stops, teams, days, travel=TRAVEL, settings=settings)
    assert plan.stopped_by == "solution_limit", (plan.stopped_by, plan.solutions)
    return plan


def route_seconds(plan) -> int:
    return round(sum(r.total_minutes for r in plan.routes) * 60)


def visited(plan) -> set:
    return {v.stop_id for r in plan.routes for v in r.visits}


# -- the travel matrix --------------------------------------------------------------------------


def test_geodesic_matrix_is_pyproj_inverse_pair_by_pair():
    points = [(106.23, 38.49), (106.5, 38.2), (105.9, 38.9), (116.39, 39.9), (-0.13, 51.5)]
    lon, lat = np.array(points).T
    matrix = geodesic_matrix(lon, lat)
    for (i, a), (j, b) in product(enumerate(points), repeat=2):
        _, _, expected = GEOD.inv(a[0], a[1], b[0], b[1])
        assert matrix[i, j] == pytest.approx(expected, abs=1e-6)


def test_travel_seconds_run_half_the_way_at_each_ends_speed():
    lon, lat = np.array([106.2, 106.3]), np.array([38.5, 38.6])
    _, _, metres = GEOD.inv(106.2, 38.5, 106.3, 38.6)
    seconds = travel_seconds(lon, lat, np.array([20.0, 60.0]), 1.25)
    hours = metres * 1.25 / 1000 * (0.5 / 20 + 0.5 / 60)
    assert seconds[0, 1] == seconds[1, 0] == round(hours * 3600)
    assert seconds[0, 0] == seconds[1, 1] == 0


# -- optimality on small instances ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "seed", "end"),
    [
        (5, 1, None),
        (6, 2, None),
        (7, 3, None),
        (8, 4, None),
        (7, 5, (106.33, 38.41)),
        (8, 6, (106.1, 38.6)),
    ],
)
def test_one_team_one_day_visits_all_in_the_shortest_order(count, seed, end):
    stops = scattered(count, seed)
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=24 * 60)
    if end:
        team = Team(
            id="A",
            lon=OFFICE[0],
            lat=OFFICE[1],
            working_minutes=24 * 60,
            end_lon=end[0],
            end_lat=end[1],
        )
    reference = Reference(stops, [team])
    plan = solve(stops, [team], 1)
    assert plan.dropped == ()
    assert route_seconds(plan) == reference.best(0, frozenset(range(count)))


@pytest.mark.parametrize(
    ("count", "seed", "hours"), [(6, 11, 3), (7, 12, 3), (7, 13, 4), (8, 14, 4)]
)
def test_when_capacity_forces_drops_the_kept_stops_are_worth_most_then_quickest(count, seed, hours):
    stops = scattered(count, seed)
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=hours * 60)
    reference = Reference(stops, [team])
    feasible = [
        (reference.worth(subset), -reference.best(0, frozenset(subset)))
        for size in range(count + 1)
        for subset in combinations(range(count), size)
        if reference.best(0, frozenset(subset)) < math.inf
    ]
    worth, seconds = max(feasible)
    plan = solve(stops, [team], 1)
    assert plan.dropped, "the instance should not fit in the day"
    kept = [i for i, s in enumerate(stops) if s.id in visited(plan)]
    assert (reference.worth(kept), route_seconds(plan)) == (worth, -seconds)
    assert (
        plan.objective.dropped_priority
        == sum(s.priority for s in stops) - plan.objective.visited_priority
    )


def test_the_lowest_priorities_are_dropped_when_only_some_fit():
    # Eight stops a few hundred metres apart, 30 minutes each: the day holds about five.
    stops = [
        Stop(
            id=p,
            lon=OFFICE[0] + 0.003 * (i % 3),
            lat=OFFICE[1] + 0.003 * (i // 3),
            service_minutes=30,
            priority=p,
        )
        for i, p in enumerate([5, 40, 0, 17, 33, 2, 71, 9])
    ]
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=160)
    plan = solve(stops, [team], 1)
    assert sorted(plan.dropped) == [0, 2, 5]
    assert plan.dropped == (0, 2, 5)  # lowest first


@pytest.mark.parametrize(("count", "seed", "hours"), [(6, 21, 3), (6, 22, 5), (7, 23, 3)])
def test_two_teams_share_the_stops_as_brute_force_does(count, seed, hours):
    stops = scattered(count, seed)
    teams = [
        Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=hours * 60),
        Team(id="B", lon=OFFICE[0] + 0.1, lat=OFFICE[1] - 0.08, working_minutes=hours * 60 - 30),
    ]
    reference = Reference(stops, teams)
    best = (-1, 0)
    for assignment in product((0, 1, None), repeat=count):  # team A, team B or dropped
        routes = [frozenset(i for i, a in enumerate(assignment) if a == t) for t in (0, 1)]
        seconds = reference.best(0, routes[0]) + reference.best(1, routes[1])
        if seconds < math.inf:
            best = max(best, (reference.worth(routes[0] | routes[1]), -seconds))
    plan = solve(stops, teams, 1)
    kept = [i for i, s in enumerate(stops) if s.id in visited(plan)]
    assert (reference.worth(kept), -route_seconds(plan)) == best


def test_one_team_over_two_days_matches_brute_force_and_puts_the_riskiest_day_first():
    stops = scattered(7, 31)
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=150)
    reference = Reference(stops, [team])
    best = (-1, 0)
    for assignment in product((0, 1, None), repeat=len(stops)):
        days = [frozenset(i for i, a in enumerate(assignment) if a == d) for d in (0, 1)]
        seconds = reference.best(0, days[0]) + reference.best(0, days[1])
        if seconds < math.inf:
            best = max(best, (reference.worth(days[0] | days[1]), -seconds))
    dates = [date(2026, 6, 2), date(2026, 6, 1)]
    plan = solve(stops, [team], dates)
    kept = [i for i, s in enumerate(stops) if s.id in visited(plan)]
    assert (reference.worth(kept), -route_seconds(plan)) == best
    assert [(r.day, r.date) for r in plan.routes] == [(0, date(2026, 6, 1)), (1, date(2026, 6, 2))]
    first, second = (
        max((s.priority for s in stops if s.id in {v.stop_id for v in r.visits}), default=-1)
        for r in plan.routes
    )
    assert first >= second


# -- what a plan says ----------------------------------------------------------------------------


def test_a_route_adds_up_and_keeps_to_the_working_day():
    stops = scattered(25, 41)
    teams = [Team(id=t, lon=OFFICE[0], lat=OFFICE[1], working_minutes=240) for t in "AB"]
    reference = Reference(stops, teams)
    plan = solve(stops, teams, 2, counted(200))  # properties of any plan: a short search will do
    assert len(plan.routes) == 4
    assert visited(plan) | set(plan.dropped) == {s.id for s in stops}
    assert len(visited(plan)) + len(plan.dropped) == len(stops)
    index = {s.id: i for i, s in enumerate(stops)}
    for route in plan.routes:
        assert route.total_minutes <= route.working_minutes
        clock, previous = 0.0, len(stops) + "AB".index(route.team_id)
        for visit in route.visits:
            travel = reference.seconds[previous, index[visit.stop_id]] / 60
            assert visit.travel_minutes == pytest.approx(travel)
            assert visit.arrival_minutes == pytest.approx(clock + travel)
            assert visit.departure_minutes == pytest.approx(
                visit.arrival_minutes + visit.service_minutes
            )
            clock, previous = visit.departure_minutes, index[visit.stop_id]
        if route.visits:
            back = reference.seconds[previous, len(stops) + 2 + "AB".index(route.team_id)] / 60
            assert route.total_minutes == pytest.approx(clock + back)
            assert route.travel_minutes + route.service_minutes == pytest.approx(
                route.total_minutes
            )
    assert plan.objective.total_minutes == pytest.approx(sum(r.total_minutes for r in plan.routes))
    assert plan.status in {"success", "optimal", "partial_success_local_optimum_not_reached"}
    assert plan.wall_seconds >= plan.search_seconds > 0


# -- when the search stops -----------------------------------------------------------------------


def test_a_counted_search_gives_the_same_plan_every_time():
    stops = scattered(25, 61)
    teams = [Team(id=t, lon=OFFICE[0], lat=OFFICE[1], working_minutes=240) for t in "AB"]
    first, second = (
        plan_routes(stops, teams, 2, travel=TRAVEL, settings=counted(200)) for _ in range(2)
    )
    assert (first.stopped_by, first.solutions) == (second.stopped_by, second.solutions)
    assert (first.stopped_by, first.solutions) == ("solution_limit", 200)
    assert first.routes == second.routes
    assert first.dropped == second.dropped
    assert first.objective == second.objective


def test_the_search_keeps_its_first_solution_or_a_better_one():
    stops = scattered(20, 62)
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=240)
    reference = Reference(stops, [team])
    first = plan_routes(stops, [team], 1, travel=TRAVEL, settings=counted(1))
    searched = solve(stops, [team], 1)
    assert first.solutions == 1 and first.dropped, "the day should not hold every stop"

    def worth_then_speed(plan):
        kept = [i for i, s in enumerate(stops) if s.id in visited(plan)]
        return reference.worth(kept), -route_seconds(plan)

    assert worth_then_speed(searched) >= worth_then_speed(first)
    assert searched.objective.cost <= first.objective.cost


def test_a_search_without_a_count_is_stopped_by_the_clock_and_says_so():
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=240)
    plan = plan_routes(
        scattered(20, 63), [team], 1, travel=TRAVEL, settings=SearchSettings(time_limit_s=0.5)
    )
    assert plan.stopped_by == "time_limit"
    assert plan.solutions >= 1 and plan.search_seconds >= 0.5 * CLOCK_TOLERANCE


# -- mandatory (pinned) stops --------------------------------------------------------------------


def test_a_mandatory_stop_is_kept_over_higher_priorities():
    stops = scattered(7, 51)
    lowest = min(range(7), key=lambda i: stops[i].priority)
    stops[lowest] = Stop(**{**stops[lowest].__dict__, "mandatory": True})
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=150)
    reference = Reference(stops, [team])
    best = max(
        (reference.worth(subset), -reference.best(0, frozenset(subset)))
        for size in range(8)
        for subset in combinations(range(7), size)
        if lowest in subset and reference.best(0, frozenset(subset)) < math.inf
    )
    plan = solve(stops, [team], 1)
    assert stops[lowest].id in visited(plan)
    kept = [i for i, s in enumerate(stops) if s.id in visited(plan)]
    assert (reference.worth(kept), -route_seconds(plan)) == best


def test_mandatory_stops_that_cannot_all_fit_are_refused():
    stops = [
        Stop(id=i, lon=OFFICE[0] + 0.01 * i, lat=OFFICE[1], service_minutes=100, mandatory=True)
        for i in range(3)
    ]
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=250)
    with pytest.raises(RoutingError) as caught:
        plan_routes(stops, [team], 1, travel=TRAVEL, settings=COUNTED)
    assert (caught.value.field, caught.value.rule) == ("stops", "mandatory_infeasible")


def test_mandatory_stops_beyond_the_on_site_time_of_all_days_are_refused_before_searching():
    stops = [
        Stop(id=i, lon=OFFICE[0], lat=OFFICE[1], service_minutes=300, mandatory=True)
        for i in range(3)
    ]
    team = Team(id="A", lon=OFFICE[0], lat=OFFICE[1], working_minutes=480)
    with pytest.raises(RoutingError) as caught:
        plan_routes(stops, [team], 1, settings=SearchSettings(time_limit_s=30))
    assert caught.value.rule == "mandatory_infeasible"


def test_a_mandatory_stop_no_day_can_reach_is_refused_by_name():
    near = Stop(id="near", lon=OFFICE[0] + 0.01, lat=OFFICE[1], service_minutes=30)
    far = Stop(id="far", lon=OFFICE[0] + 3, lat=OFFICE[1], service_minutes=30, mandatory=True)
    with pytest.raises(RoutingError) as caught:
        plan_routes([near, far], [Team(id="A", lon=OFFICE[0], lat=OFFICE[1])], 1, settings=COUNTED)
    assert (caught.value.field, caught.value.rule) == ("stops", "mandatory_unreachable")
    assert "far" in caught.value.message


def test_an_optional_stop_no_day_can_reach_is_dropped():
    near = Stop(id="near", lon=OFFICE[0] + 0.01, lat=OFFICE[1], service_minutes=30)
    far = Stop(id="far", lon=OFFICE[0] + 3, lat=OFFICE[1], service_minutes=30, priority=99)
    plan = plan_routes(
        [near, far], [Team(id="A", lon=OFFICE[0], lat=OFFICE[1])], 1, settings=COUNTED
    )
    assert plan.dropped == ("far",)


# -- bad input -----------------------------------------------------------------------------------

STOP = Stop(id=1, lon=106.3, lat=38.5, service_minutes=30)
TEAM = Team(id="A", lon=OFFICE[0], lat=OFFICE[1])


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"stops": []}, "stops", "required"),
        ({"teams": []}, "teams", "required"),
        ({"days": 0}, "days", "required"),
        ({"days": -2}, "days", "required"),
        ({"days": []}, "days", "required"),
        ({"days": [date(2026, 6, 1), date(2026, 6, 1)]}, "days", "unique"),
        ({"days": ["2026-06-01"]}, "days", "type"),
        ({"days": 1.5}, "days", "type"),
        (
            {"teams": [Team(id="A", lon=106.2, lat=38.5, working_minutes=0)]},
            "working_minutes",
            "positive",
        ),
        (
            {"teams": [Team(id="A", lon=106.2, lat=38.5, working_minutes=-60)]},
            "working_minutes",
            "positive",
        ),
        (
            {"teams": [Team(id="A", lon=106.2, lat=38.5, working_minutes=29)]},
            "working_minutes",
            "too_short",
        ),
        (
            {"teams": [Team(id="A", lon=106.0, lat=38.5, working_minutes=40)]},
            "working_minutes",
            "too_short",
        ),
        ({"stops": [Stop(id=1, lon=181, lat=38.5, service_minutes=30)]}, "stops", "coordinates"),
        ({"stops": [Stop(id=1, lon=106.3, lat=-90.5, service_minutes=30)]}, "stops", "coordinates"),
        (
            {"stops": [Stop(id=1, lon=math.nan, lat=38.5, service_minutes=30)]},
            "stops",
            "coordinates",
        ),
        ({"teams": [Team(id="A", lon=106.2, lat=95)]}, "teams", "coordinates"),
        (
            {"teams": [Team(id="A", lon=106.2, lat=38.5, end_lon=-200, end_lat=0)]},
            "teams",
            "coordinates",
        ),
        ({"stops": [STOP, STOP]}, "stops", "unique"),
        ({"teams": [TEAM, TEAM]}, "teams", "unique"),
        (
            {"stops": [Stop(id=1, lon=106.3, lat=38.5, service_minutes=-1)]},
            "stops",
            "service_minutes",
        ),
        (
            {"stops": [Stop(id=1, lon=106.3, lat=38.5, service_minutes=30, priority=-1)]},
            "stops",
            "priority",
        ),
        (
            {"stops": [Stop(id=1, lon=106.3, lat=38.5, service_minutes=30, priority=2.5)]},
            "stops",
            "priority",
        ),
        (
            {"stops": [Stop(id=1, lon=106.3, lat=38.5, service_minutes=30, speed_kmh=0)]},
            "travel",
            "speed",
        ),
        ({"travel": TravelModel(speed_kmh=0)}, "travel", "speed"),
        ({"travel": TravelModel(detour=0.9)}, "travel", "detour"),
        ({"settings": SearchSettings(time_limit_s=0)}, "time_limit", "positive"),
        ({"settings": SearchSettings(time_limit_s=-1)}, "time_limit", "positive"),
        ({"settings": SearchSettings(time_limit_s=math.inf)}, "time_limit", "positive"),
        ({"settings": SearchSettings(first_solution="FASTEST")}, "settings", "unknown"),
        ({"settings": SearchSettings(metaheuristic="MAGIC")}, "settings", "unknown"),
        ({"settings": SearchSettings(operators=("teleport",))}, "settings", "unknown"),
        ({"settings": SearchSettings(lns_time_limit_s=0)}, "settings", "unknown"),
        ({"settings": SearchSettings(solution_limit=0)}, "settings", "unknown"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_rule(kwargs, field, rule):
    arguments = {"stops": [STOP], "teams": [TEAM], "days": 1, "settings": COUNTED, **kwargs}
    with pytest.raises(RoutingError) as caught:
        plan_routes(**arguments)
    assert isinstance(caught.value, ValueError)
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert " / " in caught.value.message  # 中文 / English


def test_priorities_too_large_to_weigh_against_the_days_are_refused():
    stops = [
        Stop(id=i, lon=106.3, lat=38.5, service_minutes=30, priority=1_000_000) for i in range(300)
    ]
    teams = [Team(id=t, lon=106.2, lat=38.5, working_minutes=1440) for t in "AB"]
    with pytest.raises(RoutingError) as caught:
        plan_routes(stops, teams, 366, settings=COUNTED)
    assert (caught.value.field, caught.value.rule) == ("stops", "too_large")
