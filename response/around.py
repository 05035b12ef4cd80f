"""What is around a located incident, with the request's own limits checked: radius, k, types and
kinds. No HTTP here: the API and the coming console page both call these."""

from __future__ import annotations

import math
from collections.abc import Mapping

from accounts.models import User
from registry import catalogue
from registry.models.events import ResourceType

from . import conf, nearby
from .exceptions import refuse
from .locate import Located

MIN_RADIUS_M = 1.0


def parse_radius(raw: str | None, field: str = "radius") -> float | None:
    """A radius in metres, or None when not given; 400 when not positive, or absurdly large."""
    if raw is None or not str(raw).strip():
        return None
    try:
        radius = float(raw)
    except ValueError:
        refuse(field, f"{field}.format", f"半径应为米数 / give the radius in metres, got {raw!r}")
    limit = conf.value("RESPONSE_MAX_RADIUS_M")
    if not math.isfinite(radius) or radius < MIN_RADIUS_M:
        refuse(
            field,
            f"{field}.range",
            f"半径须为正数 / the radius must be a positive number of metres, got {raw!r}",
        )
    if radius > limit:
        refuse(
            field,
            f"{field}.range",
            f"半径过大 / a radius of {radius:,.0f} m is beyond the {limit:,} m an incident can need",
        )
    return radius


def parse_k(raw: str | None, field: str = "k") -> int:
    """How many resources of each type: 1 to the configured maximum."""
    if raw is None or not str(raw).strip():
        return int(conf.value("RESPONSE_NEAREST_K"))
    most = int(conf.value("RESPONSE_MAX_K"))
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if not 1 <= k <= most:
        refuse(
            field,
            f"{field}.range",
            f"k 应为 1–{most} 的整数 / k is a whole number from 1 to {most}",
        )
    return k


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("，", ",").split(",") if item.strip()]


def parse_types(raw: str | None, field: str = "type") -> list[str]:
    """Resource types, comma-separated; all of them when not given."""
    if raw is None or not raw.strip():
        return list(ResourceType.values)
    types = _items(raw)
    unknown = [t for t in types if t not in ResourceType.values]
    if unknown or not types:
        refuse(
            field,
            f"{field}.unknown",
            f"未知的资源类型 / unknown resource type: {', '.join(unknown)[:80]}; types: "
            + ", ".join(ResourceType.values),
        )
    return list(dict.fromkeys(types))


def parse_kinds(raw: str | None, field: str = "kind") -> list[str] | None:
    """Kind codes (X000) and/or `filling`, comma-separated; None when not given (the hazard table)."""
    if raw is None or not raw.strip():
        return None
    kinds = {entry.code for entry in catalogue.kinds()} | {nearby.FILLING}
    asked = [catalogue.normalise_code(k) if k != nearby.FILLING else k for k in _items(raw)]
    unknown = [k for k in asked if k not in kinds]
    if unknown or not asked:
        refuse(
            field,
            f"{field}.unknown",
            f"不是设备种类代码 / not a kind code: {', '.join(unknown)[:80]}; kinds: "
            + ", ".join(sorted(kinds)),
        )
    return list(dict.fromkeys(asked))


def radii_for(kinds: list[str] | None, radius: float | None) -> dict[str, float]:
    """The radius each kind is searched within: the hazard table's, or the one asked for."""
    table = conf.hazard_radii()
    kinds = kinds if kinds is not None else list(table)
    if radius is not None:
        return {kind: radius for kind in kinds}
    missing = [kind for kind in kinds if kind not in table]
    if missing:
        refuse(
            "radius",
            "radius.required",
            f"种类 {', '.join(missing)} 无默认半径，请给出 radius / no default radius for kind "
            f"{', '.join(missing)}: give radius",
        )
    return {kind: table[kind] for kind in kinds}


def place_json(located: Located) -> dict:
    region = located.region
    return {
        "lon": located.point.x,
        "lat": located.point.y,
        "region": {"code": region.code, "name": region.name, "urban": conf.is_urban(region)},
    }


def resources_around(
    user: User,
    located: Located,
    *,
    k: int,
    types: list[str],
    prefetched: nearby.CountyAndCandidates | None = None,
) -> tuple[float, dict[str, list[dict]]]:
    """The k nearest visible resources of each type, each with its estimated arrival, and the
    straight-line speed the estimate used: urban or rural, by the incident's county.
    `prefetched`: what the locating already read there (nearby.CountyAndCandidates)."""
    speed = conf.speed_kmh(located.region)
    first_step = prefetched.first_step_at(located.point) if prefetched is not None else None
    found = nearby.nearest_resources(user, located.point, types, k, first_step)
    for resources in found.values():
        for resource in resources:
            resource["eta_min"] = round(conf.arrival_minutes(resource["distance_m"], speed), 1)
    return speed, found


def hazards_around(user: User, located: Located, radii: Mapping[str, float]) -> tuple[dict, str]:
    """Visible hazardous equipment and filling stations within their radii, nearest first: what
    was searched and how many were found, and the items as JSON text."""
    limit = int(conf.value("RESPONSE_MAX_NEARBY"))
    items, total = nearby.within_json(user, located.point, radii, limit)
    return {"radii_m": dict(radii), "total": total, "truncated": total > limit}, items
