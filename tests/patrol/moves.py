"""Hand moves of a stop worked out from the routes as the API lists them, by the travel model by
hand (geodesic metres × detour ÷ speed) and the kind's on-site minutes: tests pick the move from
whatever routes the solver gave, never from a layout they assume."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import Geod

from patrol.routes import on_site_minutes, travel_model

GEOD = Geod(ellps="WGS84")


def minutes_between(a, b, speed_a: float | None = None, speed_b: float | None = None) -> float:
    """Travel minutes between two [lon, lat] points, half the way at each end's speed (km/h; an
    end without one, the team's office, at the model's)."""
    model = travel_model()
    metres = GEOD.inv(a[0], a[1], b[0], b[1])[2] * model.detour
    speeds = [speed or model.speed_kmh for speed in (speed_a, speed_b)]
    return sum(metres / 2 / (speed * 1000 / 60) for speed in speeds)


def insertion_minutes(route: dict, stop: dict, position: int) -> float:
    """Minutes the route grows by with the stop put in at the position (1 = first)."""
    places = [
        (route["start"], None),
        *((s["location"], s["speed_kmh"]) for s in route["stops"]),
        (route["end"], None),
    ]
    before, after = places[position - 1], places[position]
    here = (stop["location"], stop["speed_kmh"])
    return (
        minutes_between(before[0], here[0], before[1], here[1])
        + on_site_minutes(stop["equipment"]["kind"])
        + minutes_between(here[0], after[0], here[1], after[1])
        - minutes_between(before[0], after[0], before[1], after[1])
    )


@dataclass(frozen=True)
class Move:
    stop: dict  # as the API lists it
    source: dict
    target: dict
    position: int  # 1 = first
    spare: float  # minutes the target's day has left after the move


def roomiest_move(routes: list[dict], *, keep_sources: bool = False) -> Move:
    """The move of a stop to another route that leaves that route the most minutes to spare;
    with ``keep_sources`` only from routes that keep a stop (a route left empty is deleted)."""
    return max(
        (
            Move(stop, source, target, position, target["working_minutes"]
                 - target["total_minutes"] - insertion_minutes(target, stop, position))
            for source in routes
            if len(source["stops"]) > (1 if keep_sources else 0)
            for stop in source["stops"]
            for target in routes
            if target["id"] != source["id"]
            for position in range(1, len(target["stops"]) + 2)
        ),
        key=lambda move: move.spare,
    )  # fmt: skip
