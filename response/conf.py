"""The rule values of emergency response, each read from settings with a default.

Settings override a value by name (e.g. ``RESPONSE_HAZARD_RADII_M = {"2000": 800, ...}`` in
config/settings); the defaults below are planning values (verify against local emergency plans)
and are listed in docs/response.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from geo.models import Region

DEFAULTS: dict[str, Any] = {
    # How far around an incident hazardous equipment is listed, in metres, by kind code; "filling"
    # stands for gas filling stations (units with the filling role). Pipelines (8000) are listed
    # when their route passes within the radius.
    "RESPONSE_HAZARD_RADII_M": {
        "1000": 300,  # boilers
        "2000": 500,  # pressure vessels
        "8000": 300,  # pressure pipelines
        "filling": 800,  # gas filling stations
    },
    # Straight-line speeds that turn a distance into an arrival estimate: they already allow for
    # the detours of real roads, so they are well below driving speeds.
    "RESPONSE_SPEED_KMH": {"urban": 20.0, "rural": 40.0},
    # Resources listed per type, by default and at most.
    "RESPONSE_NEAREST_K": 3,
    "RESPONSE_MAX_K": 20,
    # A radius asked for beyond this is refused: no incident needs it, and it would read a city.
    "RESPONSE_MAX_RADIUS_M": 50_000,
    # Equipment listed around an incident at most (the nearest first); the total is still counted.
    "RESPONSE_MAX_NEARBY": 500,
    # Minutes an asked party has to answer before the next 96333 tier is asked (fire rescue, the
    # backstop, is not timed). The city rules give a few minutes; verify against the local plan.
    "RESPONSE_RESPOND_WITHIN_MIN": 5,
    # A closed incident may become an accident record when this many people were killed or
    # injured, or when a supervisor flags it as one (if flagging is allowed).
    "RESPONSE_ACCIDENT_MIN_CASUALTIES": 1,
    "RESPONSE_ACCIDENT_FLAG_ALLOWED": True,
    # Longest share of one incident with another jurisdiction (跨辖区授权); a grant ends by then.
    "RESPONSE_GRANT_MAX_HOURS": 72,
    # Minutes within which help should arrive after the call: 30 in city districts, an hour
    # elsewhere (the 96333 norm; verify against the local plan).
    "RESPONSE_ARRIVAL_NORM_MIN": {"urban": 30, "rural": 60},
}


def value(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def respond_within() -> dt.timedelta:
    return dt.timedelta(minutes=float(value("RESPONSE_RESPOND_WITHIN_MIN")))


def hazard_radii() -> dict[str, float]:
    return {str(key): float(radius) for key, radius in value("RESPONSE_HAZARD_RADII_M").items()}


def is_urban(region: Region) -> bool:
    """Urban for arrival estimates: a city district (`Region.is_city_district`)."""
    return region.is_city_district


def speed_kmh(region: Region) -> float:
    return float(value("RESPONSE_SPEED_KMH")["urban" if is_urban(region) else "rural"])


def arrival_minutes(distance_m: float, speed: float) -> float:
    return distance_m / (speed * 1000.0 / 60.0)


def arrival_norm_min() -> dict[str, float]:
    """Minutes within which help should arrive: `urban` in city districts (is_urban), `rural`
    elsewhere; response statistics count the arrivals within them."""
    norm = value("RESPONSE_ARRIVAL_NORM_MIN")
    return {"urban": float(norm["urban"]), "rural": float(norm["rural"])}
