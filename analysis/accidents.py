"""事故分析 / accident analysis: the accidents of an area over a period, filtered by kind, cause
class, severity and place type; counted over time (years and months) and broken down by kind,
cause class, severity, month of the year and place type, with each kind's causes; and the list
itself, paged. The API, the page and the downloads call these, so a chart, its table and its file
hold the same numbers.

Every count comes from one grouped statement over `Accident.objects.visible_to(scope)` (the
jurisdiction first); the per-10,000 rates divide by the desk's own in-use devices at each year's
end (analysis/figures.py), so they are the desk's 万台设备事故起数 / 万台设备死亡人数.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3

from accounts.models import User
from common.errors import DomainError, Problem
from common.i18n import in_language
from geo.scoping import Scope
from registry.models import Accident
from registry.models.events import CauseClass, PlaceType, Severity

from . import desk, hotspots
from .precomputed import measures

PAGE_SIZE = 50
PER_10K = 10_000
FILTERS = ("kind", "cause", "severity", "place")
PARAMS = ("region", "year", "years", *FILTERS)
LIST_PARAMS = (*PARAMS, "page")
HOTSPOT_PARAMS = ("region", "year", "years", "measure")
CHOICES = {"cause": CauseClass, "severity": Severity, "place": PlaceType}
COLUMN = {"kind": "kind", "cause": "cause_class", "severity": "severity", "place": "place_type"}
# DESIGN.md §3 groups causes in two: use and management; the equipment (defects, safety devices).
CAUSE_GROUP = {
    CauseClass.USE_MANAGEMENT: "use_management",
    CauseClass.DEFECT: "equipment",
    CauseClass.SAFETY_DEVICE: "equipment",
    CauseClass.OTHER: "other",
}


def parse(user: User, params, allowed: tuple[str, ...], today: dt.date) -> dict[str, Any]:
    """The desk's region/year/years, and the accident filters; every problem at once."""
    own = (*FILTERS, "page", "measure")
    desk_params = {k: v for k, v in params.items() if k not in own or k not in allowed}
    problems: list[Problem] = []
    try:
        parsed = desk.parse(user, desk_params, tuple(a for a in allowed if a not in own), today)
    except DomainError as error:
        problems += error.findings
        parsed = {"today": today}
    filters: dict[str, str] = {}
    for name in FILTERS:
        raw = (params.get(name) or "").strip()
        if not raw or name not in allowed:
            continue
        if name in CHOICES and raw not in CHOICES[name].values:
            problems.append(
                Problem(name, f"{name}.unknown", f"应为 / one of {', '.join(CHOICES[name].values)}")
            )
        elif len(raw) > 32:
            problems.append(Problem(name, f"{name}.length", "至多 32 字 / at most 32 characters"))
        else:
            filters[name] = raw
    if "page" in allowed:
        raw = (params.get("page") or "1").strip()
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100_000:
            parsed["page"] = int(raw)
        else:
            problems.append(
                Problem("page", "page.range", "页码应为正整数 / page must be a positive integer")
            )
    if "measure" in allowed:
        try:
            parsed["measure"] = hotspots.parse_measure(params.get("measure"))
        except DomainError as error:
            problems += error.findings
    if problems:
        raise DomainError(problems)
    parsed["filters"] = filters
    return parsed


def span(year: int, years: int) -> list[int]:
    return desk.span_of(year, years)


def _bounds(years: list[int], today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = dt.date(years[0], 1, 1)
    after = min(dt.date(years[-1], 12, 31), today) + dt.timedelta(days=1)
    aware = lambda day: timezone.make_aware(dt.datetime.combine(day, dt.time()))  # noqa: E731
    return aware(first), aware(after)


def scoped(area: desk.Area, years: list[int], filters: dict[str, str], today: dt.date):
    """The area's accidents in the period that pass the filters (the jurisdiction first)."""
    start, end = _bounds(years, today)
    rows = Accident.objects.visible_to(Scope(area.prefix)).filter(
        occurred_at__gte=start, occurred_at__lt=end
    )
    return rows.filter(**{COLUMN[name]: value for name, value in filters.items()})


def _rate(count: int, devices: int) -> float | None:
    return round(count * PER_10K / devices, 4) if devices else None


def _labelled(counts: dict, labels: dict[str, str], order: list[str] | None = None) -> list[dict]:
    keys = order if order is not None else sorted(counts, key=lambda k: (-counts[k][0], k))
    return [
        {
            "key": str(key),
            "label": labels.get(key, str(key)),
            "accidents": counts[key][0] if key in counts else 0,
            "deaths": counts[key][1] if key in counts else 0,
            "injuries": counts[key][2] if key in counts else 0,
        }
        for key in keys
    ]


def summary(
    user: User, area: desk.Area, year: int, years: int, filters: dict[str, str], today: dt.date
) -> dict[str, Any]:
    """The accidents, deaths and injuries of the period by year (with the per-10,000 rates) and by
    month, and broken down by kind, cause class, severity, month of the year and place type."""
    period = span(year, years)
    grouped = (
        scoped(area, period, filters, today)
        .order_by()
        .annotate(y=ExtractYear("occurred_at"), m=ExtractMonth("occurred_at"))
        .values("y", "m", "kind", "cause_class", "severity", "place_type", "region_id")
        .annotate(n=Count("id"), d=Sum("deaths"), i=Sum("injuries"))
    )
    zero = lambda: [0, 0, 0]  # noqa: E731
    by: dict[str, dict] = {name: defaultdict(zero) for name in
                           ("year", "month", "kind", "cause", "severity", "moy", "place", "kind_cause")}  # fmt: skip
    # Per county and year, for the rates: only accidents where devices are registered count.
    by_county: dict[tuple[str, int], int] = defaultdict(int)
    deaths_by_county: dict[tuple[str, int], int] = defaultdict(int)
    for row in grouped:
        by_county[row["region_id"], row["y"]] += row["n"]
        deaths_by_county[row["region_id"], row["y"]] += row["d"] or 0
        keys = {
            "year": row["y"],
            "month": f"{row['y']:04d}-{row['m']:02d}",
            "kind": row["kind"],
            "cause": row["cause_class"],
            "severity": row["severity"],
            "moy": row["m"],
            "place": row["place_type"],
            "kind_cause": (row["kind"], row["cause_class"]),
        }
        for name, key in keys.items():
            counts = by[name][key]
            counts[0] += row["n"]
            counts[1] += row["d"] or 0
            counts[2] += row["i"] or 0
    # The desk's in-use devices at each year's end, per county: the rates' denominators. A
    # county with none (an instance holding another province's accidents but not its register)
    # has no rate, and its accidents are left out of the rate's numerator too.
    devices = measures(Scope(area.prefix), 6, period, today)
    yearly = []
    for y in period:
        n, d, i = by["year"].get(y, zero())
        holding = [c for c, per_year in devices.items() if per_year[y].in_use]
        in_use = sum(devices[c][y].in_use for c in holding)
        rated = sum(by_county.get((c, y), 0) for c in holding)
        rated_deaths = sum(deaths_by_county.get((c, y), 0) for c in holding)
        yearly.append(
            {
                "year": y, "accidents": n, "deaths": d, "injuries": i, "in_use": in_use,
                "rated_accidents": rated,
                "accidents_per_10k": _rate(rated, in_use), "deaths_per_10k": _rate(rated_deaths, in_use),
            }
        )  # fmt: skip
    last = min(dt.date(period[-1], 12, 31), today)
    months = [f"{y:04d}-{m:02d}" for y in period for m in range(1, 13) if dt.date(y, m, 1) <= last]
    monthly = [
        {"month": m, "accidents": c[0], "deaths": c[1], "injuries": c[2]}
        for m in months
        for c in [by["month"].get(m, zero())]
    ]
    causes = [c.value for c in CauseClass]
    cause_labels = {c.value: str(c.label) for c in CauseClass}
    kind_causes = [
        {
            "kind": kind,
            "causes": [
                {"key": cause, "label": cause_labels[cause], "accidents": by["kind_cause"].get((kind, cause), zero())[0]}
                for cause in causes
            ],
            "accidents": by["kind"][kind][0],
        }
        for kind in sorted(by["kind"], key=lambda k: (-by["kind"][k][0], k))
    ]  # fmt: skip
    grand = [sum(c[j] for c in by["year"].values()) for j in range(3)]
    group = defaultdict(int)
    for cause, counts in by["cause"].items():
        group[CAUSE_GROUP.get(cause, "other")] += counts[0]
    return {
        "area": area.as_dict(),
        "breadcrumb": desk.breadcrumb(user, area),
        "year": year,
        "years": period,
        "period_start": dt.date(period[0], 1, 1).isoformat(),
        "period_end": last.isoformat(),
        "as_of": today.isoformat(),
        "filters": filters,
        "totals": {"accidents": grand[0], "deaths": grand[1], "injuries": grand[2]},
        "cause_groups": {
            "use_management": group["use_management"],
            "equipment": group["equipment"],
            "other": group["other"],
        },
        "yearly": yearly,
        "monthly": monthly,
        "by_kind": _labelled(by["kind"], {}),
        "by_cause": _labelled(by["cause"], cause_labels, causes),
        "by_severity": _labelled(
            by["severity"], {s.value: str(s.label) for s in Severity}, [s.value for s in Severity]
        ),
        "by_month": _labelled(
            by["moy"],
            {m: in_language(f"{m} 月", MONTHS_3[m].title()) for m in range(1, 13)},
            list(range(1, 13)),
        ),
        "by_place": _labelled(
            by["place"], {p.value: str(p.label) for p in PlaceType}, [p.value for p in PlaceType]
        ),
        "kind_causes": kind_causes,
    }


def kinds(area: desk.Area, years: list[int], today: dt.date) -> list[str]:
    """The accident kinds recorded in the area and period (the kind filter's choices)."""
    return sorted(
        set(scoped(area, years, {}, today).order_by().values_list("kind", flat=True).distinct())
    )


def listing(
    area: desk.Area, year: int, years: int, filters: dict[str, str], page: int, today: dt.date
) -> dict[str, Any]:
    """One page of the accidents, newest first."""
    rows = (
        scoped(area, span(year, years), filters, today)
        .select_related("region")
        .only("occurred_at", "address", "region__name", "kind", "severity", "cause_class",
              "place_type", "deaths", "injuries", "investigation_status")
        .order_by("-occurred_at", "-id")
    )  # fmt: skip
    paginator = Paginator(rows, PAGE_SIZE)
    number = min(page, max(1, paginator.num_pages))
    current = paginator.page(number)
    return {
        "count": paginator.count,
        "page": number,
        "pages": paginator.num_pages,
        "page_size": PAGE_SIZE,
        "results": [
            {
                "id": a.pk,
                "url": reverse("accident-page", args=[a.pk]),
                "occurred_at": timezone.localtime(a.occurred_at).isoformat(timespec="minutes"),
                "region": a.region_id,
                "region_name": a.region.name,
                "address": a.address,
                "kind": a.kind,
                "severity": a.severity,
                "severity_label": a.get_severity_display(),
                "cause": a.cause_class,
                "cause_label": a.get_cause_class_display(),
                "place": a.place_type,
                "place_label": a.get_place_type_display(),
                "deaths": a.deaths,
                "injuries": a.injuries,
            }
            for a in current.object_list
        ],
    }
