"""Benchmark: patrol day routes (geo.routing) — production settings against a long reference run.

    .venv/bin/python bench/patrol.py
    .venv/bin/python bench/patrol.py --runs 3 --reference-seconds 30   # quicker, rougher

Builds a county-sized instance around Yinchuan (106.2E 38.5N, about 40 km across), seeded: --stops
stops in towns (a city of about 40 % of them, smaller towns, a tenth scattered in the country), each
a kind with its on-site minutes (lifts 20–30, vessels 30–45, cranes 45–60, boilers 60–90, …) and a
risk-like priority (most low, a tail of overdue or failed devices scoring 30–80); travel at 25 km/h
around town stops and 50 km/h in the country, 1.3 × the geodesic distance; --teams teams leaving
the county office for 8-hour days. Two variants:
  * fits  — --days-fit days: every stop (or nearly) fits;
  * tight — --days-tight days: many stops must be dropped, the lowest priorities first.
Per variant it plans --runs times with geo.routing.PRODUCTION (wall time p50/max: checks, travel
matrix, model, search; the solutions it went through and whether its count or its clock stopped
it), then with two long references of --reference-seconds each: REFERENCE (the production search,
savings then guided local search, run longer) and guided local search from a parallel
cheapest-insertion start. Against the better reference (more priority visited, then less
time) it prints the gap of the total route time in % (target ≤ 2 %) and whether the visited
priority is equal or better (required), and the 5 s target, with the machine. Results go to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tiles import percentile  # noqa: E402
from geo.routing import (  # noqa: E402
    PRODUCTION,
    REFERENCE,
    Plan,
    Stop,
    Team,
    TravelModel,
    plan_routes,
)

CENTRE = (106.23, 38.49)  # the county office
HALF_WIDTH_KM = 20.0
TARGET_SECONDS = 5.0
TARGET_GAP = 0.02
# kind: share of stops, on-site minutes (low, high); shares after DESIGN.md's national mix.
KINDS = {
    "lift": (0.49, 20, 30),
    "vessel": (0.25, 30, 45),
    "crane": (0.14, 45, 60),
    "site_vehicle": (0.09, 20, 30),
    "boiler": (0.02, 60, 90),
    "ride": (0.01, 45, 75),
}
TOWN_KMH = 25.0
COUNTRY_KMH = 50.0
TRAVEL = TravelModel(speed_kmh=40.0, detour=1.3)


def instance(count: int, seed: int) -> list[Stop]:
    """Stops clustered like a county's towns, with on-site minutes by kind and risk-like priorities."""
    rng = np.random.default_rng(seed)
    km_lon = 1 / (111.32 * np.cos(np.radians(CENTRE[1])))
    km_lat = 1 / 110.57
    towns = [(0.0, 0.0, 2.5, 0.40)] + [
        (*rng.uniform(-HALF_WIDTH_KM * 0.9, HALF_WIDTH_KM * 0.9, 2), rng.uniform(0.6, 1.5), share)
        for share in (0.12, 0.10, 0.08, 0.07, 0.06, 0.04, 0.03)
    ]
    shares = np.array([t[3] for t in towns] + [0.10])
    where = rng.choice(len(shares), size=count, p=shares / shares.sum())
    kinds = list(KINDS)
    kind_of = rng.choice(len(kinds), size=count, p=[KINDS[k][0] for k in kinds])
    stops = []
    for i in range(count):
        if where[i] < len(towns):
            x0, y0, spread, _ = towns[where[i]]
            x, y = rng.normal(x0, spread), rng.normal(y0, spread)
            speed = TOWN_KMH
        else:
            x, y = rng.uniform(-HALF_WIDTH_KM, HALF_WIDTH_KM, 2)
            speed = COUNTRY_KMH
        _, low, high = KINDS[kinds[kind_of[i]]]
        risky = rng.random() < 0.15
        stops.append(
            Stop(
                id=i,
                lon=CENTRE[0] + x * km_lon,
                lat=CENTRE[1] + y * km_lat,
                service_minutes=float(rng.integers(low, high + 1)),
                priority=int(rng.integers(30, 81) if risky else rng.integers(1, 21)),
                speed_kmh=speed,
            )
        )
    return stops


def teams(count: int) -> list[Team]:
    return [Team(id=f"team {t + 1}", lon=CENTRE[0], lat=CENTRE[1]) for t in range(count)]


def summary(plan: Plan) -> str:
    o = plan.objective
    return (
        f"visited {o.visited:3} (priority {o.visited_priority:5}), dropped {o.dropped:3}, "
        f"route {o.total_minutes:8.1f} min (travel {o.travel_minutes:7.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stops", type=int, default=300)
    parser.add_argument("--teams", type=int, default=3)
    parser.add_argument("--days-fit", type=int, default=10)
    parser.add_argument("--days-tight", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5, help="production runs per variant")
    parser.add_argument("--reference-seconds", type=float, default=REFERENCE.time_limit_s)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", default="segis", help="only asked for its versions")
    args = parser.parse_args()

    stops = instance(args.stops, args.seed)
    crew = teams(args.teams)
    reference = replace(REFERENCE, time_limit_s=args.reference_seconds)
    insertion = replace(reference, first_solution="PARALLEL_CHEAPEST_INSERTION")
    print(
        f"{args.stops} stops ({sum(s.service_minutes for s in stops):,.0f} on-site minutes), "
        f"{args.teams} teams, 8-hour days; production: {PRODUCTION}"
    )
    print(
        f"{'variant':8} {'run':10} {'wall s':>7} {'search s':>8} {'solutions':>9} {'stopped by':14} plan"
    )
    verdicts = []
    for variant, days in (("fits", args.days_fit), ("tight", args.days_tight)):
        plans = []
        for run in range(args.runs):
            plan = plan_routes(stops, crew, days, travel=TRAVEL, settings=PRODUCTION)
            plans.append(plan)
            print(f"{variant:8} {f'prod {run + 1}':10} {_timing(plan)} {summary(plan)}")
        references = []
        for name, settings in (("reference", reference), ("ref. pci", insertion)):
            print(f"  {variant}: {name} run of {args.reference_seconds:.0f} s", file=sys.stderr)
            references.append(plan_routes(stops, crew, days, travel=TRAVEL, settings=settings))
            print(f"{variant:8} {name:10} {_timing(references[-1])} {summary(references[-1])}")
        best = max(
            references, key=lambda p: (p.objective.visited_priority, -p.objective.total_minutes)
        )
        walls = [p.wall_seconds for p in plans]
        gaps = [p.objective.total_minutes / best.objective.total_minutes - 1 for p in plans]
        priority_ok = all(
            p.objective.visited_priority >= best.objective.visited_priority for p in plans
        )
        verdicts.append(
            f"{variant:6} {days:2} days: wall p50 {percentile(walls, 0.5):.2f} s, max "
            f"{max(walls):.2f} s [{_verdict(max(walls) <= TARGET_SECONDS)}]; route time gap p50 "
            f"{percentile(gaps, 0.5) * 100:+.2f} %, max {max(gaps) * 100:+.2f} % "
            f"[{_verdict(max(gaps) <= TARGET_GAP)}]; visited priority "
            f"{'≥' if priority_ok else '<'} the better reference [{_verdict(priority_ok)}]"
        )
    print()
    print("\n".join(verdicts))
    print(f"machine: {_machine(args.database)}")


def _timing(plan: Plan) -> str:
    """Wall and search seconds, solutions gone through and the rule that ended the search."""
    return (
        f"{plan.wall_seconds:7.2f} {plan.search_seconds:8.2f} {plan.solutions:9} "
        f"{plan.stopped_by:14}"
    )


def _machine(database: str) -> str:
    from bench.database import use_database

    use_database(database, recreate=False)
    from bench.machine import describe

    return describe()


def _verdict(met: bool) -> str:
    return "ok" if met else "OVER"


if __name__ == "__main__":
    main()
