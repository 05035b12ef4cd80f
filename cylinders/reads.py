"""The traceability reads, each starting from the user's jurisdiction: a cylinder's chain, a
station's day, its overdue cylinders, the violations a county sees and where the cylinders a
station filled in breach of the rules were seen last."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, Subquery
from django.utils import timezone

from geo.models import Region
from geo.scoping import Scope
from registry.models import Unit

from .models import Cylinder, FillingRecord, StationDay, Violation

SHORT_LIST = 200
DAY_SHOWN = 20  # rows of each list on a station's day page; the full lists are paged pages
LIST_PAGE = 100  # a station's full lists (the day's fillings, overdue cylinders, violations)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local calendar day as [start, end) instants."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))


def find_cylinder(user: Any, tag: str) -> Cylinder | None:
    """A cylinder of the jurisdiction by its tag (None: unknown here or another's)."""
    # Its owner's name is shown; its region only as the code it holds (not the county's outline).
    return Cylinder.objects.visible_to(user).select_related("owner").filter(tag=tag).first()


@dataclass
class Chain:
    cylinder: Cylinder
    inspections: list
    fillings: list  # newest first, those at stations the user sees
    hidden_fillings: int  # at stations of other jurisdictions: counted, not shown
    stations: dict[int, Unit]


def chain_of(user: Any, cylinder: Cylinder) -> Chain:
    """Maker → owner → every inspection → every filling, the fillings the user may see listed."""
    everything = FillingRecord.objects.filter(tag=cylinder.tag)
    shown = list(everything.visible_to(user).order_by("-filled_at")[:SHORT_LIST])
    total = everything.count()
    visible_total = everything.visible_to(user).count() if total > len(shown) else len(shown)
    station_ids = {f.station_id for f in shown}
    stations = Unit.objects.visible_to(user).in_bulk(station_ids)
    return Chain(
        cylinder=cylinder,
        inspections=list(cylinder.inspections.order_by("-inspected_on")),
        fillings=shown,
        hidden_fillings=total - visible_total,
        stations=stations,
    )


def station_fillings(station: Unit, day: dt.date, *, earliest_first: bool = True):
    """The station's fillings of a local day in time order (a queryset: the pages slice it)."""
    start, end = day_bounds(day)
    order = ("filled_at", "id") if earliest_first else ("-filled_at", "-id")
    return FillingRecord.objects.filter(
        station_id=station.pk, filled_at__gte=start, filled_at__lt=end
    ).order_by(*order)


def overdue_cylinders(station: Unit, on: dt.date | None = None, *, longest_first: bool = True):
    """The station's overdue cylinders, the longest overdue first (a queryset: pages slice it)."""
    order = ("next_inspection_due", "tag") if longest_first else ("-next_inspection_due", "tag")
    return Cylinder.objects.filter(owner=station).overdue(on).order_by(*order)


def counted(rows) -> Subquery:
    """How many rows, as a subquery of the station (OuterRef "pk") annotated with it."""
    # count(*) as a plain function, not an aggregate: no GROUP BY, one row per station.
    total = rows.order_by().annotate(n=Func(template="count(*)", output_field=IntegerField()))
    return Subquery(total.values("n")[:1], output_field=IntegerField())


def kept(field: str, **days) -> Subquery:
    """The sum of a kept StationDay figure of the station (OuterRef "pk") over the days chosen."""
    rows = StationDay.objects.filter(station=OuterRef("pk"), **days).order_by()
    total = rows.annotate(
        n=Func(F(field), template="coalesce(sum(%(expressions)s), 0)", output_field=IntegerField())
    )
    return Subquery(total.values("n")[:1], output_field=IntegerField())


def station_summary(station: Unit, day: dt.date, on: dt.date | None = None) -> dict[str, int]:
    """Cylinders owned and overdue (each counted from an index alone: cylinder_owner_due and the
    partial cylinder_owner_due_active; overdue depends on the day, so it is not kept), and from
    the kept StationDay figures (a few hundred rows) the violations on record and the day's
    fillings and violations: one statement, as the map layer's figures (with_station_figures)."""
    owned = Cylinder.objects.filter(owner=OuterRef("pk"))
    figures = {  # named apart from Unit's own names (its reverse relation `cylinders`)
        "cylinders": counted(owned),
        "overdue": counted(owned.overdue(on or timezone.localdate())),
        "violations": kept("violations"),
        "day_fillings": kept("fillings", day=day),
        "day_violations": kept("violations", day=day),
    }
    row = (
        Unit.objects.filter(pk=station.pk)
        .annotate(**{f"figure_{name}": value for name, value in figures.items()})
        .values(*(f"figure_{name}" for name in figures))
        .get()
    )
    return {name: row[f"figure_{name}"] for name in figures}


def violations_for(
    user: Any, *, rule: str | None = None, station: int | None = None, newest_first: bool = True
):
    """The violations of the jurisdiction's stations, newest first (or oldest)."""
    rows = Violation.objects.visible_to(user)
    if rule:
        rows = rows.filter(rule=rule)
    if station:
        rows = rows.filter(station_id=station)
    return rows.order_by("-filled_at", "pk") if newest_first else rows.order_by("filled_at", "pk")


SEEN_LIST = 50
# The cylinders of the station's latest violations, each with its own latest filling anywhere.
LAST_SEEN = """
SELECT v.tag, f.station_id, f.region_id, f.filled_at
FROM (
    SELECT tag, max(filled_at) AS breached FROM cylinders_violation WHERE station_id = %s
    GROUP BY tag ORDER BY breached DESC LIMIT %s
) v
JOIN LATERAL (
    -- Its latest filling is at or after the breach (the breaching filling is one): the months
    -- before are pruned at run time instead of probed, one index probe per month per cylinder.
    SELECT station_id, region_id, filled_at FROM cylinders_filling
    WHERE tag = v.tag AND filled_at >= v.breached ORDER BY filled_at DESC LIMIT 1
) f ON true
ORDER BY v.breached DESC
"""


@dataclass
class Seen:
    tag: str
    station: Unit | None  # None: a station of another jurisdiction
    region: Region
    filled_at: dt.datetime
    cylinder: Cylinder | None


def last_seen(user: Any, station: Unit) -> list[Seen]:
    """Where the cylinders of the station's latest SEEN_LIST violations were filled last: the
    station if the user sees it, else only its county (a public fact)."""
    with connection.cursor() as cursor:
        cursor.execute(LAST_SEEN, [station.pk, SEEN_LIST])
        rows = cursor.fetchall()
    scope = Scope.of(user)
    stations = Unit.objects.visible_to(user).in_bulk({r[1] for r in rows})
    regions = Region.objects.in_bulk({r[2] for r in rows})
    cylinders = {
        c.tag: c for c in Cylinder.objects.visible_to(user).filter(tag__in=[r[0] for r in rows])
    }
    return [
        Seen(
            tag,
            stations.get(sid) if scope.contains(region) else None,
            regions[region],
            at,
            cylinders.get(tag),
        )
        for tag, sid, region, at in rows
    ]


FIGURES_DAYS = 30  # the fillings a station's map figure counts: the last month's


def filling_licences():
    """The licence register's filling licences that cover gas cylinders (cylinders.rules)."""
    from licensing.models import Licence, LicenceKind

    from .rules import CYLINDER_SCOPE

    return Licence.objects.filter(kind=LicenceKind.FILLING, scope__code=CYLINDER_SCOPE)


def filling_licence(station_id: int, today: dt.date):
    """The station's filling licence to show: the one in force today that runs longest, else the
    one that ended last (None: it never held one)."""
    return _latest_in_force_first(filling_licences().filter(unit_id=station_id), today).first()


def _latest_in_force_first(licences, today: dt.date):
    """Licences in force today first, each part by expiry, latest first: one statement."""
    in_force = filling_licences().valid_on(today).filter(pk=OuterRef("pk"))
    return licences.annotate(current=Exists(in_force)).order_by("-current", "-expires_on", "-pk")


def with_station_figures(stations, today: dt.date):
    """Filling stations (a scoped Unit queryset) with their figures for the map layer: cylinders
    owned, of them overdue, fillings in the last FIGURES_DAYS days, violations on record (those
    two from the kept StationDay figures, as the station page reads them)."""
    from registry.models import UnitRole

    owned = Cylinder.objects.filter(owner=OuterRef("pk"))
    # The licence as the station page shows it (filling_licence): in force today, else the last.
    licence = _latest_in_force_first(filling_licences().filter(unit_id=OuterRef("pk")), today)
    return stations.with_role(UnitRole.FILLING).annotate(
        licence_number=Subquery(licence.values("number")[:1]),
        licence_expires=Subquery(licence.values("expires_on")[:1]),
        owned_cylinders=counted(owned),
        overdue=counted(owned.overdue(today)),
        fillings=kept("fillings", day__gte=today - dt.timedelta(days=FIGURES_DAYS)),
        violations=kept("violations"),
    )


def cylinder_figures(scope: Scope, today: dt.date) -> dict[str, tuple[int, int]]:
    """(cylinders in service, of them overdue) per county code inside the scope, counted in the
    database: the choropleth's overdue-cylinder share."""
    rows = (
        Cylinder.objects.visible_to(scope)
        .exclude(status__in=["scrapped", "lost"])
        .order_by()
        .values("region_id")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=Q(next_inspection_due__lt=today)))
    )
    return {r["region_id"]: (r["n"], r["overdue"]) for r in rows}


# 无证充装: a station's days with fillings (its kept StationDay figures) on which it held no filling
# licence in force covering gas cylinders; one finding per station, on its latest such day.
UNLICENSED_FILLING_SQL = """
SELECT NULL::integer, sd.station_id, 'filling', max(sd.day), min(sd.region_id)
  FROM cylinders_stationday sd
 WHERE sd.fillings > 0 AND sd.day >= %s AND sd.day <= %s AND {scope}
   AND NOT {licensed}
 GROUP BY sd.station_id
"""


def unlicensed_filling(prefix: str, today: dt.date, since: dt.date) -> tuple[str, list]:
    """The SQL, with its parameters, of the licensing findings (rows of licensing.findings.Finding)
    of the stations under a division prefix that filled without a filling licence, from `since` to
    `today` (registered with licensing's rule from CylindersConfig.ready; SQL, so that the map layer
    of those stations holds it as a subquery)."""
    from licensing.findings import in_force_sql

    from .rules import CYLINDER_SCOPE

    scope, params = ("TRUE", [since, today]) if not prefix else (
        "sd.region_id ^@ %s", [since, today, prefix]
    )  # fmt: skip
    licensed = in_force_sql("sd.station_id", "'filling'", "sd.day", f"'{CYLINDER_SCOPE}'")
    return UNLICENSED_FILLING_SQL.format(scope=scope, licensed=licensed), params
