"""Where an incident is: coordinates in an accepted system, a map click, an equipment code, or a
registered unit's name or address — each scoped to the responder's jurisdiction.

Every way answers `Located` records (the point in WGS84 and what was matched) or raises a
ResponseError naming the parameter. A code that is unknown and a code of another jurisdiction get
the very same "not found", so the answer never tells that a record exists elsewhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from django.contrib.gis.geos import Point

from accounts.models import User
from geo import crs
from geo.functions import has_geometry, present
from geo.models import Region
from geo.scoping import Scope
from registry.models import Equipment, Unit
from registry.placement import check_coordinates, place
from registry.search import unit_matches
from registry.validators import Finding, normalise_certificate_number

from .exceptions import ResponseError, refuse
from .models import LocatedBy

ACCEPTED_CRS = crs.offered_on(crs.Surface.RESPONSE)  # what pickers and GPS give
MAX_MATCHES = 10
MAX_CODE_LENGTH = 40
MIN_UNIT_TEXT, MAX_UNIT_TEXT = 2, 100
# Each of these names one way of locating; a request gives exactly one.
WAYS = ("point", "click", "code", "unit", "q")

# Two numbers separated by a comma (half- or full-width) or spaces, as pickers copy them.
_PAIR = re.compile(r"\s*([^\s,，]+)\s*(?:[,，]\s*|\s+)([^\s,，]+)\s*")


@dataclass(frozen=True)
class Located:
    """A place an incident can be at, and the record (if any) that put it there."""

    point: Point  # WGS84
    how: str  # LocatedBy
    region: Region
    source_crs: crs.CRS = crs.CRS.WGS84
    given: tuple[float, float] | None = None  # the coordinates as typed, in source_crs
    equipment: Equipment | None = None
    unit: Unit | None = None
    # Why the point is not the matched record's own (its use unit's, a point of its route).
    approximate: str = ""


def parse_crs(value: str | None, field: str = "crs") -> crs.CRS:
    if value is None or not value.strip():
        return crs.CRS.WGS84
    try:
        return crs.parse(value, crs.Surface.RESPONSE).system
    except crs.UnknownCRS:
        shown = value if len(value) <= 40 else value[:37] + "..."
        refuse(
            field,
            "crs.not_accepted",
            f"不支持的坐标系 {shown!r}；可用 / coordinate system not accepted; use one of: "
            + ", ".join(ACCEPTED_CRS),
        )


def parse_pair(text: str, field: str) -> tuple[float, float]:
    """Coordinates as typed or pasted, lon first: two finite numbers."""
    match = _PAIR.fullmatch(text or "")
    if match is None:
        refuse(
            field,
            f"{field}.format",
            f"坐标应为“经度,纬度” / give coordinates as lon,lat, got {text[:60]!r}",
        )
    try:
        lon, lat = float(match[1]), float(match[2])
    except ValueError:
        refuse(
            field, f"{field}.format", f"坐标不是数字 / coordinates are not numbers: {text[:60]!r}"
        )
    if not (math.isfinite(lon) and math.isfinite(lat)):
        refuse(field, f"{field}.format", "坐标须为有限数 / coordinates must be finite numbers")
    return lon, lat


def coordinate_findings(lon: float, lat: float, field: str) -> list[Finding]:
    """The registry's checks (range, outside China, swapped), plus a latitude beyond ±90 whose
    swapped pair is a valid coordinate: only the swap makes sense of it, even outside China."""
    findings = check_coordinates(lon, lat, field)
    if (
        findings
        and findings[0].rule == "location.range"
        and abs(lat) > 90
        and abs(lon) <= 90
        and abs(lat) <= 180
    ):
        return [
            Finding(
                field,
                "location.swapped",
                f"纬度 {lat} 超出 ±90，经纬度可能颠倒 / latitude {lat} is beyond ±90: longitude "
                f"and latitude look swapped (the swapped point is outside China too)",
                "error",
                suggestion=f"lon={lat}, lat={lon}",
            )
        ]
    return findings


def _in_response_area(user: User, region: Region, field: str) -> None:
    if not Scope.of(user).contains(region.code):
        refuse(
            field,
            "location.outside_jurisdiction",
            "位置不在您的响应辖区内 / the point lies outside your response area",
        )


CountyOf = Callable[[Point], Region | None]


def at_coordinates(
    user: User,
    text: str,
    system: crs.CRS | str = crs.CRS.WGS84,
    *,
    field: str = "point",
    how: str = LocatedBy.COORDINATES,
    county_of: CountyOf = Region.locate,
) -> Located:
    """Coordinates typed or pasted in any accepted system, lon first. `county_of` finds the
    county of the checked point (see `registry.placement.place`)."""
    system = parse_crs(system)
    lon, lat = parse_pair(text, field)
    findings = coordinate_findings(lon, lat, field)
    if findings:
        raise ResponseError(findings)
    # Labelled with the system's own SRID: storage conversion checks the label against the system.
    placement = place(
        Point(lon, lat, srid=crs.srid_for(system)),
        source_crs=system,
        field_name=field,
        county_of=county_of,
    )
    errors = [f for f in placement.findings if f.severity == "error"]
    if errors:
        raise ResponseError(errors)
    _in_response_area(user, placement.region, field)
    return Located(placement.geometry, how, placement.region, system, (lon, lat))


def at_click(user: User, text: str, county_of: CountyOf = Region.locate) -> Located:
    """A click on the map, which speaks WGS84."""
    return at_coordinates(
        user, text, crs.CRS.WGS84, field="click", how=LocatedBy.MAP_CLICK, county_of=county_of
    )


def _not_found(field: str, text: str, what: str) -> ResponseError:
    return ResponseError(
        [
            Finding(
                field,
                f"{field}.not_found",
                f"在您的响应辖区内未找到 {text[:60]!r} / no {what} matches {text[:60]!r} in your "
                "response area",
                "error",
            )
        ]
    )


def _equipment_place(device: Equipment) -> tuple[Point | None, str]:
    if (location := present(device.location)) is not None:
        return location, ""
    if (route := present(device.route)) is not None:
        return route.point_on_surface, "route"
    if (location := present(device.use_unit.location)) is not None:
        return location, "use_unit"
    return None, ""


def by_code(user: User, text: str, field: str = "code") -> list[Located]:
    """A 96333 rescue ID, device code, registration code or use-certificate number."""
    code = normalise_certificate_number(text)
    if not code:
        refuse(field, f"{field}.empty", "请输入设备编码 / give an equipment code")
    if len(code) > MAX_CODE_LENGTH:
        refuse(
            field, f"{field}.length", f"编码过长 / a code has at most {MAX_CODE_LENGTH} characters"
        )
    devices = (
        Equipment.objects.visible_to(user)
        .by_code(code)
        .select_related("region", "use_unit", "variety")
        .order_by("pk")[:MAX_MATCHES]
    )
    found = []
    for device in devices:
        point, approximate = _equipment_place(device)
        if point is not None:
            found.append(
                Located(
                    point, LocatedBy.CODE, device.region, equipment=device, approximate=approximate
                )
            )
    if not found:
        raise _not_found(field, code, "equipment")
    return found


def by_unit(user: User, text: str, field: str = "unit") -> list[Located]:
    """A registered unit whose name, credit code or address holds the text: best matches first."""
    term = " ".join((text or "").split())
    if not MIN_UNIT_TEXT <= len(term) <= MAX_UNIT_TEXT:
        refuse(
            field,
            f"{field}.length",
            f"单位名称或地址应为{MIN_UNIT_TEXT}–{MAX_UNIT_TEXT}个字 / give {MIN_UNIT_TEXT} to "
            f"{MAX_UNIT_TEXT} characters of a unit's name or address",
        )
    located = Unit.objects.visible_to(user).filter(has_geometry()).select_related("region")
    units, _ = unit_matches(located, term, MAX_MATCHES, within=user)
    if not units:
        raise _not_found(field, term, "unit name or address")
    return [Located(u.location, LocatedBy.UNIT, u.region, unit=u) for u in units]


def by_text(user: User, text: str, system: crs.CRS, field: str = "q") -> list[Located]:
    """One search box: a coordinate pair, else an equipment code, else a unit's name or address."""
    if _is_pair(text):
        return [at_coordinates(user, text, system, field=field)]
    try:
        return by_code(user, text, field)
    except ResponseError:
        pass
    try:
        return by_unit(user, text, field)
    except ResponseError:
        pass
    raise _not_found(field, " ".join((text or "").split()), "equipment code, unit name or address")


def _is_pair(text: str) -> bool:
    """Two numbers, as a coordinate picker copies them."""
    match = _PAIR.fullmatch(text or "")
    if match is None:
        return False
    try:
        float(match[1]), float(match[2])
    except ValueError:
        return False
    return True


def locate(user: User, params: Mapping[str, str]) -> list[Located]:
    """Exactly one of point (with crs), click, code, unit or q; every match, best first."""
    given = [way for way in WAYS if (params.get(way) or "").strip()]
    if len(given) != 1:
        refuse(
            "query",
            "query.one_way",
            "请给出且只给出一种定位方式 / give exactly one of: "
            + ", ".join(WAYS)
            + (f" (got {', '.join(given)})" if given else ""),
        )
    [way] = given
    text = params[way]
    system_given = bool((params.get("crs") or "").strip())
    if system_given and way not in ("point", "q"):
        refuse("crs", "crs.not_applicable", f"{way} 不带坐标系 / crs goes with point or q only")
    system = parse_crs(params.get("crs"))
    if way == "point":
        return [at_coordinates(user, text, system)]
    if way == "click":
        return [at_click(user, text)]
    if way == "code":
        return by_code(user, text)
    if way == "unit":
        return by_unit(user, text)
    return by_text(user, text, system)


def at_equipment(user: User, equipment_id: object, field: str = "equipment") -> Located:
    """A device picked from a match list (by id): at its own place."""
    device = (
        Equipment.objects.visible_to(user)
        .select_related("region", "use_unit", "variety")
        .filter(pk=_id(equipment_id, field))
        .first()
    )
    if device is None:
        raise _not_found(field, str(equipment_id), "equipment")
    return at_device(device, field)


def at_device(device: Equipment, field: str = "equipment") -> Located:
    """A device its caller has already found (scoped, or by its public QR token): at its own place."""
    point, approximate = _equipment_place(device)
    if point is None:
        refuse(
            field,
            f"{field}.no_location",
            "该设备及其使用单位均无位置，请给出坐标 / neither the device nor its use unit has a "
            "location: give the point",
        )
    return Located(point, LocatedBy.CODE, device.region, equipment=device, approximate=approximate)


def at_unit(user: User, unit_id: object, field: str = "unit") -> Located:
    """A unit picked from a match list (by id): at its registered place."""
    unit = (
        Unit.objects.visible_to(user)
        .filter(has_geometry(), pk=_id(unit_id, field))
        .select_related("region")
        .first()
    )
    if unit is None:
        raise _not_found(field, str(unit_id), "unit with a location")
    return Located(unit.location, LocatedBy.UNIT, unit.region, unit=unit)


def _id(value: object, field: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 0 < number < 2**63:
        refuse(field, f"{field}.format", f"{field} 应为记录编号 / {field} is a record id")
    return number


def for_incident(
    user: User,
    *,
    point: str = "",
    system: str | None = None,
    click: str = "",
    equipment: object = None,
    unit: object = None,
    county_of: CountyOf = Region.locate,
) -> Located:
    """Where a new incident is: at the given point or click, else at the picked equipment or unit.
    A device or unit given with a point is linked to the incident, which stays at the point.
    `county_of` finds the county of a point or click (see `at_coordinates`)."""
    if point and click:
        refuse(
            "point", "query.one_way", "point 与 click 只能给一个 / give point or click, not both"
        )
    linked_device = at_equipment(user, equipment) if equipment not in (None, "") else None
    linked_unit = at_unit(user, unit) if unit not in (None, "") else None
    if point or click:
        if system and not point:
            refuse("crs", "crs.not_applicable", "click 不带坐标系 / crs goes with point only")
        located = (
            at_coordinates(user, point, parse_crs(system), county_of=county_of)
            if point
            else at_click(user, click, county_of=county_of)
        )
        return replace(
            located,
            equipment=linked_device.equipment if linked_device else None,
            unit=linked_unit.unit if linked_unit else None,
        )
    if linked_device is not None:
        return replace(linked_device, unit=linked_unit.unit if linked_unit else None)
    if linked_unit is not None:
        return linked_unit
    refuse(
        "location",
        "location.required",
        "请给出 point、click、equipment 或 unit 之一 / give one of point, click, equipment or unit",
    )
