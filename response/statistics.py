"""Response statistics: arrival times and the share within the norm per sub-region, and how each
maintenance unit answered its asks, for a period and a division of the user's jurisdiction.

Everything is counted in the database, in four statements whatever the number of regions or units
(one transaction, JIT off): the sub-regions (with their outlines for the page's map), the figures
per sub-region, the totals, and the figures per maintenance unit. Medians and the 90th percentile
are PostgreSQL's `percentile_cont` (interpolated between the two middle values, as numpy's
default). Incidents count by the day they were reported (server time zone), by default the last 365
days up to today; the area is the user's jurisdiction or a division inside it, and only incidents
whose county lies in it are read (a cross-jurisdiction grant shares an incident's handling, not the
other county's statistics).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    F,
    FilteredRelation,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Left
from django.utils import timezone

from accounts.models import User
from geo.basemap import outline_tolerance
from geo.divisions import child_width, code_prefix
from geo.models import Level, Region, city_district
from geo.outlines import outlines as stored_outlines
from geo.scoping import Scope

from . import conf
from .exceptions import refuse
from .models import (
    Dispatch,
    Incident,
    IncidentEventKind,
    IncidentState,
)

PARAMETERS = ("from", "to", "region")
# The default period: the last 365 days up to today, so early in a year it still shows a year.
DEFAULT_DAYS = 365
# A longer period is refused: nobody compares decades, and it would read every incident ever.
MAX_DAYS = 366 * 10
EARLIEST, LATEST = dt.date(1990, 1, 1), dt.date(2999, 12, 31)


class Minutes(Func):
    """Minutes from the second time to the first, as a float (NULL when either is NULL)."""

    template = "(EXTRACT(EPOCH FROM (%(expressions)s)) / 60.0)::double precision"
    arg_joiner = " - "
    arity = 2
    output_field = FloatField()


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (interpolated, as numpy's default); NULLs are left out."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True)
class StatisticsQuery:
    """What to count: reported on dates start…end (inclusive, local time), in the area's counties."""

    start: dt.date
    end: dt.date
    area: str  # the code prefix of the division ('' = national)
    region: Region | None  # None: national


def _date(params: Mapping[str, str], name: str, default: dt.date) -> dt.date:
    text = (params.get(name) or "").strip()
    if not text:
        return default
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        refuse(
            name,
            f"{name}.format",
            f"日期格式应为 YYYY-MM-DD，收到 {text[:30]!r} / give the date as YYYY-MM-DD",
        )
    # Far from today a date is a typo, and at the calendar's ends a day more or less overflows.
    if not EARLIEST <= day <= LATEST:
        refuse(
            name,
            f"{name}.range",
            f"日期应在 {EARLIEST} 至 {LATEST} 之间 / the date lies between {EARLIEST} and {LATEST}",
        )
    return day


def parse_query(
    user: User, params: Mapping[str, str], *, today: dt.date | None = None
) -> StatisticsQuery:
    """The period and division asked for, checked: a 400 names the parameter at fault."""
    for name in params:
        if name not in PARAMETERS:
            refuse(
                name,
                "query.unknown",
                f"未知参数 {name[:30]!r} / unknown parameter; accepted: {', '.join(PARAMETERS)}",
            )
    today = today or timezone.localdate()
    end = _date(params, "to", today)
    start = _date(params, "from", end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        refuse("from", "from.after_to", "开始日期晚于结束日期 / from is after to", str(end))
    if (end - start).days >= MAX_DAYS:
        refuse(
            "from", "from.range", f"时段最长 {MAX_DAYS} 天 / a period has at most {MAX_DAYS} days"
        )
    user_prefix = user.jurisdiction_prefix or ""
    code = (params.get("region") or "").strip()
    if not code:
        region = (
            Region.objects.filter(code=user_prefix.ljust(6, "0")).first() if user_prefix else None
        )
        return StatisticsQuery(start, end, user_prefix, region)
    region = Region.objects.filter(code=code).first() if code.isdigit() and len(code) == 6 else None
    # An unknown code and a division beyond the jurisdiction answer alike.
    if region is None or not Scope(user_prefix).contains(region.code_prefix):
        refuse(
            "region",
            "region.outside_jurisdiction",
            f"区划 {code[:12]!r} 不在您的辖区内 / division {code[:12]!r} is not in your jurisdiction",
        )
    return StatisticsQuery(start, end, region.code_prefix, region)


def _bounds(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _reported_within(query: StatisticsQuery, path: str = "") -> dict[str, dt.datetime]:
    return {
        f"{path}reported_at__gte": _bounds(query.start),
        f"{path}reported_at__lt": _bounds(query.end + dt.timedelta(days=1)),
    }


def incidents_in(user: User, query: StatisticsQuery) -> QuerySet:
    """The incidents counted: the user's, in the area, reported in the period. The area lies in
    the jurisdiction, so an incident another county shares with the user is not among them."""
    return (
        Incident.objects.visible_to(user)
        .within_prefix(query.area)
        .filter(**_reported_within(query))
    )


def urban(region_path: str = "region") -> Q:
    """The rows whose county (at `region_path`; '' for regions themselves) is a city district:
    `conf.is_urban` in SQL."""
    return city_district(region_path)


def norm_minutes(region_path: str = "region") -> Case:
    """The arrival norm of the incident's county: urban for a city district, rural elsewhere."""
    norm = conf.arrival_norm_min()
    return Case(
        When(urban(region_path), then=Value(norm["urban"])),
        default=Value(norm["rural"]),
        output_field=FloatField(),
    )


def _incident_figures() -> dict[str, Any]:
    arrival = F("arrival")
    return {
        "incidents": Count("pk"),
        "false_alarms": Count("pk", filter=Q(state=IncidentState.FALSE_ALARM)),
        "arrived": Count("arrived_at"),
        "within_norm": Count("pk", filter=Q(arrival__lte=F("norm"))),
        "arrival_median_min": PercentileCont(arrival, 0.5),
        "arrival_mean_min": Avg(arrival),
        "arrival_p90_min": PercentileCont(arrival, 0.9),
        "release_median_min": PercentileCont(F("release"), 0.5),
    }


def _measured(incidents: QuerySet) -> QuerySet:
    return incidents.annotate(
        arrival=Minutes("arrived_at", "reported_at"),
        release=Minutes("released_at", "arrived_at"),
        norm=norm_minutes(),
    )


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    figures = {name: row.get(name) for name in _incident_figures()}
    for name, value in figures.items():
        if name.endswith("_min") and value is not None:
            figures[name] = round(value, 1)
    arrived = figures["arrived"] or 0
    figures["within_norm_share"] = round(figures["within_norm"] / arrived, 4) if arrived else None
    return figures


EMPTY = {"incidents": 0, "false_alarms": 0, "arrived": 0, "within_norm": 0}


def region_rows(user: User, query: StatisticsQuery, *, outlines: bool = False) -> list[dict]:
    """One row per sub-region of the area, with its figures (zero or none without incidents).
    Incidents of a county whose sub-region has no loaded boundary still count, in a row of their
    own prefix."""
    width = child_width(query.area)
    regions = Region.objects.below(query.area)
    if outlines:  # the stored outlines' rows carry the regions' code, name and level too
        listed = [
            {"code": code, "name": name, "level": level, "outline": shape}
            for code, name, level, shape, _ in stored_outlines(
                regions, outline_tolerance(query.area)
            )
        ]
    else:
        listed = list(regions.values("code", "name", "level").order_by("code"))
    found = {
        row["sub"]: row
        for row in _measured(incidents_in(user, query))
        .annotate(sub=Left("region_id", width))
        .values("sub")
        .annotate(**_incident_figures())
        .order_by("sub")
    }
    rows = []
    for region in listed:
        prefix = code_prefix(region["code"], region["level"])[:width]
        figures = found.pop(prefix, EMPTY)
        rows.append({**region, "prefix": prefix, **_rounded(figures)})
    rows += [
        {"code": sub, "name": sub, "level": "", "prefix": sub, **_rounded(figures)}
        for sub, figures in sorted(found.items())
    ]
    return rows


def totals(user: User, query: StatisticsQuery) -> dict[str, Any]:
    return _rounded(_measured(incidents_in(user, query)).aggregate(**_incident_figures()))


def unit_rows(user: User, query: StatisticsQuery) -> list[dict]:
    """Per maintenance unit asked for the area's incidents: its asks and how they ended, the median
    minutes to an answer (yes or no), and — for the incidents it was the responding party of, the
    ask whose answer moved the incident to responded — arrivals and arrivals within the norm."""
    asks = (
        Dispatch.objects.visible_to(user)
        .within_prefix(query.area)
        .filter(unit__isnull=False, **_reported_within(query, "incident__"))
        # At most one state change to responded per incident: a join, not a row per event.
        .annotate(
            moved=FilteredRelation(
                "events",
                condition=Q(
                    events__kind=IncidentEventKind.STATE_CHANGE,
                    events__to_state=IncidentState.RESPONDED,
                ),
            ),
            answer=Minutes(Coalesce("responded_at", "declined_at"), "asked_at"),
            arrival=Minutes("incident__arrived_at", "incident__reported_at"),
            norm=norm_minutes("incident__region"),
        )
        .values("unit_id", "unit__name")
        .annotate(
            asks=Count("pk"),
            accepted=Count("responded_at"),
            declined=Count("declined_at"),
            timed_out=Count("timed_out_at"),
            cancelled=Count("cancelled_at"),
            answer_median_min=PercentileCont(F("answer"), 0.5),
            responding_for=Count("moved"),
            arrived=Count("moved", filter=Q(incident__arrived_at__isnull=False)),
            arrived_within_norm=Count("moved", filter=Q(arrival__lte=F("norm"))),
        )
        .order_by("-asks", "unit__name", "unit_id")
    )
    rows = []
    for row in asks:
        answer = row["answer_median_min"]
        arrived = row["arrived"]
        rows.append(
            {
                "id": row["unit_id"],
                "name": row["unit__name"],
                "asks": row["asks"],
                "accepted": row["accepted"],
                "declined": row["declined"],
                "timed_out": row["timed_out"],
                "cancelled": row["cancelled"],
                "pending": row["asks"]
                - row["accepted"]
                - row["declined"]
                - row["timed_out"]
                - row["cancelled"],
                "answer_median_min": round(answer, 1) if answer is not None else None,
                "responding_for": row["responding_for"],
                "arrived": arrived,
                "arrived_within_norm": row["arrived_within_norm"],
                "within_norm_share": (
                    round(row["arrived_within_norm"] / arrived, 4) if arrived else None
                ),
            }
        )
    return rows


def region_json(query: StatisticsQuery) -> dict[str, Any]:
    if query.region is None:
        return {"code": "", "name": "全国 / national", "level": Level.NATIONAL, "prefix": ""}
    region = query.region
    return {"code": region.code, "name": region.name, "level": region.level, "prefix": query.area}


def norm_json() -> dict[str, Any]:
    return {
        **conf.arrival_norm_min(),
        "unit": "minutes",
        "urban_rule": "县级区划名称以“区”结尾（市辖区）/ county-level division named …区 (city district)",
    }


def response_statistics(
    user: User, query: StatisticsQuery, *, outlines: bool = False
) -> dict[str, Any]:
    """The whole answer: period, division, norm, totals, sub-regions and maintenance units."""
    with transaction.atomic():
        # JIT compiles these aggregates for longer than they run (seconds against a few hundred
        # milliseconds on a province's year), as it does the map's queries (layers.sources).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        return {
            "period": {"from": query.start.isoformat(), "to": query.end.isoformat()},
            "region": region_json(query),
            "norm": norm_json(),
            "totals": totals(user, query),
            "regions": region_rows(user, query, outlines=outlines),
            "maintenance_units": unit_rows(user, query),
        }


# The division picker lists at most this many (a national user picks provinces and cities).
MAX_CHOICES = 600


def region_choices(user: User) -> list[dict[str, str]]:
    """The divisions a user may narrow the statistics to: the jurisdiction and the levels below it,
    leaving out counties while they are too many to list."""
    regions = Region.objects.within_prefix(user.jurisdiction_prefix or "").listable(MAX_CHOICES)
    return list(regions.order_by("code").values("code", "name", "level")[:MAX_CHOICES])
