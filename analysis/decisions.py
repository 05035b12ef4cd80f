"""Decision support (决策分析): three questions a supervisor plans with, each answered for the
user's jurisdiction or a division inside it (docs/analysis.md, "Decision support").

- `workload`: devices falling due per month for the next 12 months, by inspection body and county,
  from the register's due dates and the interval rules (registry/intervals.py), repeats included;
- `coverage`: devices whose nearest rescue resource is beyond an arrival time, by county, and the
  sites that would cover most of them if k resources were added (greedy maximal coverage);
- `risk`: use units ranked by a weighted score of overdue devices, accidents, failed inspections
  and defects, and patrol results, every component shown.

The area is parsed as the desk parses it (`desk.parse`); every read starts from `visible_to`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext_lazy

from accounts.models import User
from common.errors import DomainError, Problem
from geo.models import Level, Region
from geo.scoping import Scope
from patrol.models import PatrolStop
from registry.intervals import RuleBook, add_months
from registry.models import Accident, EmergencyResource, Equipment, Inspection, Unit
from registry.models.equipment import EquipmentStatus, overdue_condition
from registry.models.events import ResourceType
from response import conf as response_conf

from . import desk
from .desk import Area

MONTHS = 12
UNASSIGNED = gettext_lazy("未定")

# ------------------------------------------------------------------------------- parameters

MAX_K, DEFAULT_K = 20, 5
MIN_MINUTES, MAX_MINUTES = 1, 240
# Candidate sites are grid cells holding uncovered devices: at most this many, the fullest first.
CELL_DEGREES = 0.02
MAX_CANDIDATES = 300
# Resources that can answer a trapped-passenger or equipment call (96333 tiers: maintenance,
# county rescue teams, fire rescue as the backstop).
DEFAULT_TYPES = (
    ResourceType.MAINTENANCE_STATION,
    ResourceType.RESCUE_TEAM,
    ResourceType.FIRE_STATION,
)
KINDS = ("1000", "2000", "3000", "4000", "5000", "6000", "9000")
PAGE_SIZE = 50


def _int(params, name: str, low: int, high: int, default: int, problems: list) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and low <= int(raw) <= high:
        return int(raw)
    problems.append(Problem(name, f"{name}.range", f"应为 {low}–{high} / must be {low}–{high}"))
    return default


def parse(user: User, params, question: str, today: dt.date) -> dict[str, Any]:
    """The area (as the desk parses it) and the question's own parameters; every problem at once,
    a 400 naming each field."""
    own = QUESTION_PARAMS[question]
    problems: list = []
    try:
        parsed = desk.parse(user, params, ("region", *own), today)
    except DomainError as error:
        problems += [p for p in error.findings if p.field not in own]
        parsed = {"today": today}
        if "region" not in {p.field for p in problems}:
            parsed["region"] = desk.parse_area(user, params.get("region"))
    if "kind" in own:
        kind = (params.get("kind") or "3000").strip()
        if kind not in KINDS:
            problems.append(Problem("kind", "kind.unknown", f"应为 / one of {', '.join(KINDS)}"))
        parsed["kind"] = kind
    if "minutes" in own:
        parsed["minutes"] = (
            None
            if not params.get("minutes")
            else _int(params, "minutes", MIN_MINUTES, MAX_MINUTES, 30, problems)
        )
    if "k" in own:
        parsed["k"] = _int(params, "k", 1, MAX_K, DEFAULT_K, problems)
    if "types" in own:
        raw = [t.strip() for t in (params.get("types") or "").split(",") if t.strip()]
        known = set(ResourceType.values)
        if any(t not in known for t in raw):
            problems.append(
                Problem("types", "types.unknown", f"应为 / any of {', '.join(sorted(known))}")
            )
        parsed["types"] = tuple(raw) or tuple(str(t) for t in DEFAULT_TYPES)
    if "page" in own:
        parsed["page"] = _int(params, "page", 1, 100_000, 1, problems)
    if "sort" in own:
        sort = (params.get("sort") or "score").strip()
        if sort.lstrip("-") not in RISK_SORTS:
            problems.append(
                Problem("sort", "sort.unknown", f"应为 / one of {', '.join(RISK_SORTS)} (- 降序)")
            )
            sort = "score"
        parsed["sort"] = sort
    if problems:
        raise DomainError(problems)
    return parsed


# ------------------------------------------------------------------------------- counties


def counties_of(area: Area) -> dict[str, Region]:
    """The counties of the area (a county is its own), by code."""
    regions = Region.objects.within_prefix(area.prefix).filter(level=Level.COUNTY)
    return {r.code: r for r in regions.only("code", "name", "level")}


def county_rows(area: Area, counts: dict[str, list[int] | int]) -> list[dict[str, Any]]:
    """One row per county of the area, those with nothing counted too."""
    counties = counties_of(area)
    return [
        {"code": code, "name": counties[code].name if code in counties else code}
        for code in sorted(set(counties) | set(counts))
    ]


# ------------------------------------------------------------------------------- 1. workload


def window_months(today: dt.date) -> list[dt.date]:
    """The first days of this month and the 11 after it."""
    first = today.replace(day=1)
    return [add_months(first, m) for m in range(MONTHS)]


def _month_index(first: dt.date, day: dt.date) -> int:
    return (day.year - first.year) * 12 + day.month - first.month


def workload(area: Area, today: dt.date) -> dict[str, Any]:
    """Inspections falling due in each of the next 12 months (this one first), by inspection body
    and by county.

    A device in use is due in the month of its due date; one already overdue (past its date, or
    with none after a failed inspection) is counted in the first month as backlog. Once inspected
    on its due date and passing, the rules set its next date an interval later (`add_months`, the
    rule's own arithmetic): when that falls inside the window it is counted again there, and again
    after that (an elevator due this month is due again in 12 months: outside; a crane lifting
    molten metal due in March with a 12-month rule, likewise; a 6-month rule would count twice).
    The body is the unit that did the device's last inspection, else the body that did most
    inspections in its county, else none yet.
    """
    months = window_months(today)
    first, end = months[0], add_months(months[0], MONTHS)
    book = RuleBook.from_database()
    keys = sorted({key for rule in book.rules for key in rule.condition})
    last_body = (
        Inspection.objects.filter(equipment=OuterRef("pk"))
        .order_by("-inspected_on", "-id")
        .values("body_id")[:1]
    )
    devices = (
        Equipment.objects.visible_to(Scope(area.prefix))
        .filter(status=EquipmentStatus.IN_USE)
        .filter(Q(next_inspection_due__lt=end) | Q(next_inspection_due__isnull=True))
        .annotate(
            body=Subquery(last_body, output_field=IntegerField()),
            month=TruncMonth("next_inspection_due"),
            late=Case(When(overdue_condition(today), then=True), default=False),
            **{f"p_{k}": KT(f"params__{k}") for k in keys},
        )
        .order_by()
        .values("variety_id", "region_id", "body", "month", "late", *(f"p_{k}" for k in keys))
        .annotate(n=Count("id"))
    )
    by_body: dict[int | None, list[int]] = defaultdict(lambda: [0] * MONTHS)
    by_county: dict[str, list[int]] = defaultdict(lambda: [0] * MONTHS)
    due = [0] * MONTHS
    repeats = [0] * MONTHS
    backlog = 0
    county_body: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    grouped = list(devices)
    for row in grouped:
        if row["body"] is not None:
            county_body[row["region_id"]][row["body"]] += row["n"]
    usual_body = {
        county: max(bodies.items(), key=lambda kv: (kv[1], -kv[0]))[0]
        for county, bodies in county_body.items()
    }
    for row in grouped:
        month = row["month"]
        start = 0 if row["late"] else _month_index(first, month)
        if row["late"]:
            backlog += row["n"]
        params = {k: _json_value(row[f"p_{k}"]) for k in keys}
        interval = book.interval_months(row["variety_id"], params)
        body = row["body"] if row["body"] is not None else usual_body.get(row["region_id"])
        at = start
        while at < MONTHS:
            (due if at == start else repeats)[at] += row["n"]
            by_body[body][at] += row["n"]
            by_county[row["region_id"]][at] += row["n"]
            if not interval:
                break
            at += interval
    names = dict(Unit.objects.filter(pk__in=[b for b in by_body if b]).values_list("pk", "name"))
    bodies = sorted(
        (
            {
                "id": body,
                "name": names.get(body, UNASSIGNED) if body else UNASSIGNED,
                "months": counts,
                "total": sum(counts),
            }
            for body, counts in by_body.items()
        ),
        key=lambda r: (-r["total"], r["name"]),
    )
    counties = [
        {**row, "months": by_county.get(row["code"], [0] * MONTHS)}
        for row in county_rows(area, by_county)
    ]
    for row in counties:
        row["total"] = sum(row["months"])
    return {
        "area": area.as_dict(),
        "as_of": today.isoformat(),
        "months": [m.strftime("%Y-%m") for m in months],
        "due": due,
        "repeats": repeats,
        "totals": [a + b for a, b in zip(due, repeats, strict=True)],
        "backlog": backlog,
        "bodies": bodies,
        "counties": counties,
    }


def _json_value(raw: Any) -> Any:
    """A parameter read as text from the JSON (KT) back to what the rule compares against."""
    if raw is None:
        return None
    if raw in ("true", "false"):
        return raw == "true"
    if raw.lstrip("-").isdigit():
        return int(raw)
    return raw


# ------------------------------------------------------------------------------- 2. coverage

EARTH_RADIUS_M = 6_371_008.8  # the mean radius: candidate sites are scored on the sphere


def reach_m(county: Region | None, minutes: float | None) -> tuple[float, float]:
    """(metres reachable, minutes allowed) for a device in the county: the response desk's
    straight-line speed for it (response.conf, urban or rural) times the arrival time, which is
    `minutes` if given, else the 96333 norm for the county (30 min in city districts, 60 else)."""
    urban = county is not None and response_conf.is_urban(county)
    speed = float(response_conf.value("RESPONSE_SPEED_KMH")["urban" if urban else "rural"])
    allowed = (
        minutes
        if minutes is not None
        else response_conf.arrival_norm_min()["urban" if urban else "rural"]
    )
    return speed * 1000.0 / 60.0 * allowed, allowed


# The ellipsoid's geodesic and the mean sphere's great circle differ by under 0.6 %: every resource
# within this factor of the spherically nearest is measured geodesically, which finds the nearest.
SPHERE_SLACK = 1.012
CHUNK = 2000  # devices measured against every resource at once


def _lon_lat(queryset) -> list[tuple]:
    lon = Func("location", function="ST_X", output_field=FloatField())
    lat = Func("location", function="ST_Y", output_field=FloatField())
    return list(queryset.annotate(lon=lon, lat=lat).exclude(location__isempty=True))


def great_circle(lon1, lat1, lon2, lat2):
    """Metres on the mean sphere between arrays of points (degrees), broadcast."""
    import numpy as np

    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


MAX_DEVICES = 300_000  # devices one coverage answer weighs: beyond, a smaller region is asked for


def _in_use_of_kind(area: Area, kind: str):
    return Equipment.objects.visible_to(Scope(area.prefix)).filter(
        status=EquipmentStatus.IN_USE, kind=kind, location__isnull=False
    )


def refuse_too_many(area: Area, kind: str) -> None:
    """A 400 naming `region` when the area holds more devices of the kind than one answer weighs."""
    if _in_use_of_kind(area, kind)[: MAX_DEVICES + 1].count() > MAX_DEVICES:
        raise DomainError(
            [
                Problem(
                    "region",
                    "region.too_large",
                    f"设备超过 {MAX_DEVICES:,} 台，请选择下级区划 / more than {MAX_DEVICES:,} "
                    "devices: choose a smaller region",
                )
            ]
        )


def nearest_resources(
    area: Area, user: User, kind: str, types: tuple[str, ...]
) -> list[tuple[int, str, float, float, float | None]]:
    """(device id, county, lon, lat, geodesic metres to the nearest resource or None) of every
    device in use of the kind in the area that has a location.

    The resources are those the user's jurisdiction holds (a county's teams, not the neighbour's:
    the user cannot see those). Every device is measured against every resource on the sphere,
    then those within SPHERE_SLACK of the nearest on the WGS84 ellipsoid (pyproj.Geod, what
    PostGIS's geography distance computes): exact, in work devices × resources (a province's few
    hundred resources: fine; a nation's would want the response desk's KNN per device)."""
    import numpy as np
    from pyproj import Geod

    devices = _lon_lat(_in_use_of_kind(area, kind).order_by("id").values_list("id", "region_id"))
    resources = _lon_lat(
        EmergencyResource.objects.visible_to(Scope.of(user))
        .filter(resource_type__in=types)
        .order_by("id")
        .values_list("id")
    )
    if not devices:
        return []
    if not resources:
        return [(d[0], d[1], d[2], d[3], None) for d in devices]
    geod = Geod(ellps="WGS84")
    rlon = np.array([r[1] for r in resources])[None, :]
    rlat = np.array([r[2] for r in resources])[None, :]
    found = []
    for at in range(0, len(devices), CHUNK):
        chunk = devices[at : at + CHUNK]
        dlon = np.array([d[2] for d in chunk])[:, None]
        dlat = np.array([d[3] for d in chunk])[:, None]
        sphere = great_circle(dlon, dlat, rlon, rlat)
        near = sphere <= sphere.min(axis=1, keepdims=True) * SPHERE_SLACK + 1.0
        rows, cols = np.nonzero(near)
        _, _, metres = geod.inv(dlon[rows, 0], dlat[rows, 0], rlon[0, cols], rlat[0, cols])
        best = np.full(len(chunk), np.inf)
        np.minimum.at(best, rows, metres)
        found += [(d[0], d[1], d[2], d[3], float(m)) for d, m in zip(chunk, best, strict=True)]
    return found


def coverage(
    area: Area,
    user: User,
    kind: str,
    types: tuple[str, ...],
    minutes: int | None,
    k: int,
    today: dt.date,
) -> dict[str, Any]:
    """Devices beyond the arrival time of their nearest resource, by county, and the greedy
    maximal-coverage answer for k added resources."""
    counties = counties_of(area)
    refuse_too_many(area, kind)
    rows = nearest_resources(area, user, kind, types)
    per_county: dict[str, dict[str, int]] = defaultdict(lambda: {"devices": 0, "uncovered": 0})
    uncovered = []
    for device, county, lon, lat, nearest in rows:
        reach, _ = reach_m(counties.get(county), minutes)
        per_county[county]["devices"] += 1
        if nearest is None or nearest > reach:
            per_county[county]["uncovered"] += 1
            uncovered.append((device, county, lon, lat, reach))
    county_table = []
    for row in county_rows(area, per_county):
        counted = per_county.get(row["code"], {"devices": 0, "uncovered": 0})
        _, allowed = reach_m(counties.get(row["code"]), minutes)
        county_table.append(
            {
                **row,
                **counted,
                "minutes": allowed,
                "share": (
                    round(100.0 * counted["uncovered"] / counted["devices"], 2)
                    if counted["devices"]
                    else None
                ),
            }
        )
    sites, candidates = greedy_sites(uncovered, k, counties)
    return {
        "area": area.as_dict(),
        "as_of": today.isoformat(),
        "kind": kind,
        "types": list(types),
        "minutes": minutes,
        "norm": response_conf.arrival_norm_min(),
        "speed_kmh": response_conf.value("RESPONSE_SPEED_KMH"),
        "devices": len(rows),
        "uncovered": len(uncovered),
        "counties": county_table,
        "sites": sites,
        "candidates": candidates,
    }


@dataclass(frozen=True)
class Candidate:
    lon: float
    lat: float
    county: str
    cell_devices: int


def candidate_sites(uncovered: list[tuple]) -> list[Candidate]:
    """The centroids of the grid cells (CELL_DEGREES on a side) holding uncovered devices, the
    fullest MAX_CANDIDATES of them; each named by the county most of its devices lie in."""
    cells: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for row in uncovered:
        cells[(math.floor(row[2] / CELL_DEGREES), math.floor(row[3] / CELL_DEGREES))].append(row)
    fullest = sorted(cells.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_CANDIDATES]
    found = []
    for _, members in fullest:
        counties: dict[str, int] = defaultdict(int)
        for row in members:
            counties[row[1]] += 1
        found.append(
            Candidate(
                lon=sum(r[2] for r in members) / len(members),
                lat=sum(r[3] for r in members) / len(members),
                county=max(counties.items(), key=lambda kv: (kv[1], kv[0]))[0],
                cell_devices=len(members),
            )
        )
    return found


def covers(candidates: list[Candidate], uncovered: list[tuple]):
    """A boolean matrix: candidate i reaches device j within device j's reach (great circle on the
    mean sphere, within 0.6 % of the ellipsoid's distance: a planning answer). Computed in chunks
    of devices, so memory holds booleans, not distances."""
    import numpy as np

    found = np.zeros((len(candidates), len(uncovered)), dtype=bool)
    if not candidates or not uncovered:
        return found
    clon = np.array([c.lon for c in candidates])[:, None]
    clat = np.array([c.lat for c in candidates])[:, None]
    for at in range(0, len(uncovered), CHUNK * 10):
        part = uncovered[at : at + CHUNK * 10]
        distance = great_circle(
            clon,
            clat,
            np.array([u[2] for u in part])[None, :],
            np.array([u[3] for u in part])[None, :],
        )
        found[:, at : at + len(part)] = distance <= np.array([u[4] for u in part])[None, :]
    return found


def greedy_sites(
    uncovered: list[tuple], k: int, counties: dict[str, Region]
) -> tuple[list[dict], int]:
    """Up to k sites, each the candidate covering the most devices not yet covered (greedy maximal
    coverage: within 1 − 1/e of the best k-set), with the number it newly covers; stops early when
    no candidate covers another device. Also the number of candidates weighed."""
    candidates = candidate_sites(uncovered)
    matrix = covers(candidates, uncovered)
    left = matrix.copy()
    chosen = []
    running = 0
    for step in range(k):
        if not candidates or not len(uncovered):
            break
        gains = left.sum(axis=1)
        best = int(gains.argmax())
        gain = int(gains[best])
        if gain == 0:
            break
        running += gain
        site = candidates[best]
        chosen.append(
            {
                "rank": step + 1,
                "lon": round(site.lon, 5),
                "lat": round(site.lat, 5),
                "county": site.county,
                "county_name": counties[site.county].name if site.county in counties else "",
                "newly_covered": gain,
                "covered_so_far": running,
            }
        )
        left[:, left[best]] = False
    return chosen, len(candidates)


# ------------------------------------------------------------------------------- 3. risk

RISK_YEARS = 3  # accidents, inspections and patrol results of the last three years count

# Points per record; the score is their sum. Policy weights, shown on the page; change them here.
RISK_WEIGHTS = MappingProxyType(
    {
        "overdue": 5,  # an in-use device past its due date today
        "accidents": 20,  # an accident with the unit's device or the unit named
        "deaths": 30,  # each death in those accidents, on top
        "failed": 8,  # a failed periodic inspection
        "defects": 1,  # each defect an inspection recorded
        "patrol_findings": 3,  # a patrol visit that recorded findings
        "open_orders": 10,  # a supervision order issued and not yet rectified
        "sealed": 15,  # a device sealed on patrol
    }
)
RISK_SORTS = ("score", "devices", *RISK_WEIGHTS)
# The whole ranking (downloads, the map) names at most this many units: bounded work.
MAX_NAMED = 20_000


def risk_since(today: dt.date) -> dt.date:
    return add_months(today, -12 * RISK_YEARS)


def risk_components(area: Area, user: User, today: dt.date) -> dict[int, dict[str, int]]:
    """Per use unit with a device in the area: each component's count (RISK_WEIGHTS' keys and
    `devices`), counted over the area's devices only."""
    scope = Scope(area.prefix)
    since = risk_since(today)
    found: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(RISK_SORTS[1:], 0))
    devices = (
        Equipment.objects.visible_to(scope)
        .exclude(status__in=[EquipmentStatus.CANCELLED, EquipmentStatus.SCRAPPED])
        .order_by()
        .values("use_unit_id")
        .annotate(devices=Count("id"), overdue=Count("id", filter=overdue_condition(today)))
    )
    holding = set()
    for row in devices:
        found[row["use_unit_id"]].update(devices=row["devices"], overdue=row["overdue"])
        holding.add(row["use_unit_id"])
    accidents = (
        Accident.objects.visible_to(scope)
        .filter(occurred_at__date__gte=since)
        .annotate(who=Coalesce("unit_id", "equipment__use_unit_id"))
        .exclude(who=None)
        .order_by()
        .values("who")
        .annotate(accidents=Count("id"), deaths=Coalesce(Sum("deaths"), 0))
    )
    for row in accidents:
        found[row["who"]].update(accidents=row["accidents"], deaths=row["deaths"])
    inspections = (
        Inspection.objects.visible_to(scope)
        .filter(inspected_on__gte=since)
        .order_by()
        .values(who=F("equipment__use_unit_id"))
        .annotate(
            failed=Count("id", filter=Q(conclusion="fail")),
            defects=Coalesce(Sum("defects"), 0),
        )
    )
    for row in inspections:
        found[row["who"]].update(failed=row["failed"], defects=row["defects"])
    # Patrol results the user may read (plans are the supervisors'; an analyst reads none).
    stops = (
        PatrolStop.objects.visible_to(user)
        .filter(candidate__equipment__region__code__startswith=area.prefix)
        .filter(recorded_at__date__gte=since)
        .order_by()
        .values(who=F("candidate__equipment__use_unit_id"))
        .annotate(
            patrol_findings=Count("id", filter=~Q(findings="")),
            open_orders=Count("id", filter=Q(order_issued=True, order_rectified_on=None)),
            sealed=Count("id", filter=Q(sealed=True)),
        )
    )
    for row in stops:
        found[row["who"]].update(
            patrol_findings=row["patrol_findings"],
            open_orders=row["open_orders"],
            sealed=row["sealed"],
        )
    # Only units with a device in the area: an accident here naming a unit from elsewhere does not
    # bring that unit into the list.
    return {unit: found[unit] for unit in holding if unit is not None}


def score_of(counts: dict[str, int]) -> dict[str, int]:
    return {key: counts[key] * weight for key, weight in RISK_WEIGHTS.items()}


def risk(
    area: Area, user: User, today: dt.date, sort: str = "score", page: int | None = 1
) -> dict[str, Any]:
    """Use units ranked by their score (or a component), PAGE_SIZE a page (`page=None`: all)."""
    components = risk_components(area, user, today)
    rows = []
    for unit, counts in components.items():
        points = score_of(counts)
        rows.append({"id": unit, **counts, "points": points, "score": sum(points.values())})
    key = sort.lstrip("-")
    descending = not sort.startswith("-")
    rows.sort(key=lambda r: r["id"])
    rows.sort(key=lambda r: r[key], reverse=descending)
    total = len(rows)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    if page is not None:
        rows = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    elif len(rows) > MAX_NAMED:
        rows = rows[:MAX_NAMED]
    units = {
        u.pk: u
        for u in Unit.objects.filter(pk__in=[r["id"] for r in rows]).only(
            "id", "name", "credit_code", "region_id"
        )
    }
    for row in rows:
        unit = units.get(row["id"])
        row.update(
            name=unit.name if unit else str(row["id"]),
            credit_code=unit.credit_code if unit else "",
            region=unit.region_id if unit else "",
        )
    return {
        "area": area.as_dict(),
        "as_of": today.isoformat(),
        "since": risk_since(today).isoformat(),
        "weights": dict(RISK_WEIGHTS),
        "sort": sort,
        "page": page or 1,
        "page_size": PAGE_SIZE,
        "count": total,
        "units": rows,
    }


def page_of(answer: dict[str, Any], page: int) -> dict[str, Any]:
    """One page of a whole ranking (`risk(page=None)`)."""
    units = answer["units"][(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return answer | {"page": page, "units": units}


QUESTION_PARAMS = {
    "workload": (),
    "coverage": ("kind", "minutes", "k", "types"),
    "risk": ("sort", "page"),
}
