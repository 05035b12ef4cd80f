"""The desk's measures computed from the registry tables: additive counts per child region and
year. The pages read them precomputed per county (analysis/precomputed.py); this computation is
that table's source and the tests' oracle for it.

`measures_from_registry(scope, width, years, today)` groups by the first `width` digits of the region code (0:
one row for the whole scope) and by year, in six statements whatever the number of regions:
the life cycle (registrations, cancellations, and so the register at each year's end), the
suspended devices at each year's end, the inspection due dates and whether each was met, the
accidents, and today's in-use and overdue devices (maps.summary.region_figures, the map's own
counts, so the overdue share is the overdue layer's definition). Every measure is a count, so
child rows sum to the parent; the rates are formed from the sums (analysis/indicators.py).

The scope is applied once, by `Equipment.objects.visible_to(scope)` (the jurisdiction first):
its SQL is the `e` every statement joins, so events and inspections are read only through the
devices the scope sees; accidents go through their own `visible_to`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, ExtractYear, Left
from django.utils import timezone

from geo.scoping import Scope
from inspections import rules as supervision
from licensing import findings as licensing_findings
from licensing.models import FindingAction
from maps.summary import region_figures, roll_up
from registry.models import Accident, Equipment, EquipmentStatus, LifecycleEvent, Variety
from registry.models.equipment import LifecycleEventKind

REGISTRATION = LifecycleEventKind.REGISTRATION.value
CANCELLATION = LifecycleEventKind.CANCELLATION.value
# The events that set a device's status; the last one on or before a day is its status that day.
STATUS_EVENTS = [
    LifecycleEventKind.SUSPENSION.value,
    LifecycleEventKind.RESUMPTION.value,
    CANCELLATION,
]
SUSPENSION = LifecycleEventKind.SUSPENSION.value


@dataclass
class Measures:
    """Additive counts of one region (or the whole scope) in one year."""

    registered: int = 0  # in the register at the period's end
    in_use: int = 0  # in the register and not suspended at the period's end
    registrations: int = 0
    cancellations: int = 0
    due: int = 0  # inspection due dates in the period (up to today), device in use that day
    inspected_on_time: int = 0  # of those, met by the next inspection on or before the date
    accidents: int = 0
    deaths: int = 0
    injuries: int = 0
    # Registered in the period and needing a supervisory inspection at manufacture or installation
    # (inspections/data/supervision_requirements.csv); of those, with a passed one of each.
    supervision_required: int = 0
    supervised: int = 0
    # Unlicensed-activity findings (licensing.findings) by the year of their day; of those, the
    # ones a supervisor recorded an action on (licensing.FindingAction).
    unlicensed: int = 0
    unlicensed_acted: int = 0
    # Today's state, the same in every year (the indicators marked current_only read them).
    overdue: int = 0
    in_use_now: int = 0
    # In use today and of a kind that needs a use registration (analysis/data/use_registration.csv);
    # of those, holding a use registration certificate number (使用登记证编号).
    use_registration_required: int = 0
    use_registered: int = 0

    def add(self, other: Measures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


# child prefix → year → measures
Figures = dict[str, dict[int, Measures]]


def period_end(year: int, today: dt.date) -> dt.date:
    """The last day a year's figures count: 31 December, or today in the current year."""
    return min(dt.date(year, 12, 31), today)


def _scoped_equipment(scope: Scope) -> tuple[str, tuple]:
    rows = (
        Equipment.objects.visible_to(scope)
        .order_by()
        .values("id", "region", "commissioned_on", "created_at", "next_inspection_due")
    )
    sql, params = rows.query.sql_with_params()
    return sql, tuple(params)


def _run(sql: str, params: Sequence) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # JIT compiles for longer than these statements run
        cursor.execute(sql, params)
        return cursor.fetchall()


def _life_cycle(equipment: tuple[str, tuple], width: int, end: dt.date) -> list[tuple]:
    """(child, measure, year, n) for registrations and cancellations of every year up to `end`:
    the register at a year's end is their running difference. A device without a registration
    event (legacy rows) counts from its commissioning date, else from the day it was entered."""
    sql, params = equipment
    return _run(
        f"""
        WITH e AS ({sql}),
        d AS (
            SELECT left(e.region, %s) AS child,
                   COALESCE(min(ev.occurred_on) FILTER (WHERE ev.kind = %s), e.commissioned_on,
                            (e.created_at AT TIME ZONE %s)::date) AS registered_on,
                   min(ev.occurred_on) FILTER (WHERE ev.kind = %s) AS cancelled_on
            FROM e LEFT JOIN registry_lifecycleevent ev
                   ON ev.equipment_id = e.id AND ev.kind IN (%s, %s)
            GROUP BY e.id, e.region, e.commissioned_on, e.created_at
        )
        SELECT child, 'registrations', extract(year FROM registered_on)::int, count(*)
        FROM d WHERE registered_on <= %s GROUP BY 1, 3
        UNION ALL
        SELECT child, 'cancellations', extract(year FROM cancelled_on)::int, count(*)
        FROM d WHERE cancelled_on <= %s AND registered_on <= %s GROUP BY 1, 3
        """,
        (
            *params,
            width,
            REGISTRATION,
            settings.TIME_ZONE,
            CANCELLATION,
            REGISTRATION,
            CANCELLATION,
            end,
            end,
            end,
        ),
    )


def _suspended(equipment: tuple[str, tuple], width: int, ends: list[dt.date]) -> list[tuple]:
    """(child, year, n): devices whose last status event on or before each period end is a
    suspension. Each status event holds until the device's next one: the suspension spells are
    found once and matched against every period end."""
    sql, params = equipment
    return _run(
        f"""
        WITH e AS ({sql}),
        spells AS (
            SELECT * FROM (
                SELECT left(e.region, %s) AS child, ev.kind, ev.occurred_on AS since,
                       lead(ev.occurred_on) OVER (PARTITION BY ev.equipment_id
                                                  ORDER BY ev.occurred_on, ev.id) AS until
                FROM registry_lifecycleevent ev JOIN e ON e.id = ev.equipment_id
                WHERE ev.kind = ANY(%s)
            ) status WHERE kind = %s
        )
        SELECT s.child, extract(year FROM ends.end_on)::int, count(*)
        FROM unnest(%s::date[]) AS ends(end_on)
        JOIN spells s ON s.since <= ends.end_on AND (s.until IS NULL OR s.until > ends.end_on)
        GROUP BY 1, 2
        """,
        (*params, width, STATUS_EVENTS, SUSPENSION, ends),
    )


def _due_rows(equipment: tuple[str, tuple], width: int, first: dt.date, last: dt.date):
    """The SQL of the inspection due dates from `first` to `last`, one row each: (equipment_id,
    child, due, met_on); `_dues` counts them, `due_dates` lists them (the evaluation's trace).

    A due date is the one an inspection set (`next_due`), or for a device never inspected the one
    set at registration (`next_inspection_due`). It is met when the device's next inspection is on
    or before it. Due dates of a device suspended or cancelled on that day (its last status event
    by then) are left out. A failed inspection sets no due date: the device is overdue at once
    (the overdue share counts it), so it adds no due date here.
    """
    sql, params = equipment
    return (
        f"""
        WITH e AS ({sql}),
        ins AS (
            SELECT i.equipment_id, left(e.region, %s) AS child, i.next_due AS due,
                   lead(i.inspected_on) OVER (PARTITION BY i.equipment_id
                                              ORDER BY i.inspected_on, i.id) AS met_on
            FROM registry_inspection i JOIN e ON e.id = i.equipment_id
        ),
        dues AS (
            SELECT equipment_id, child, due, met_on FROM ins WHERE due BETWEEN %s AND %s
            UNION ALL
            SELECT e.id, left(e.region, %s), e.next_inspection_due, NULL FROM e
            WHERE e.next_inspection_due BETWEEN %s AND %s
              AND NOT EXISTS (SELECT 1 FROM registry_inspection i WHERE i.equipment_id = e.id)
        ),
        -- Each status event holds until the device's next one: the spells out of service.
        spells AS (
            SELECT * FROM (
                SELECT ev.equipment_id, ev.kind, ev.occurred_on AS since,
                       lead(ev.occurred_on) OVER (PARTITION BY ev.equipment_id
                                                  ORDER BY ev.occurred_on, ev.id) AS until
                FROM registry_lifecycleevent ev JOIN e ON e.id = ev.equipment_id
                WHERE ev.kind = ANY(%s)
            ) status WHERE kind <> %s
        ),
        counted AS (
            SELECT * FROM dues d
            WHERE NOT EXISTS (
                SELECT 1 FROM spells s WHERE s.equipment_id = d.equipment_id
                  AND s.since <= d.due AND (s.until IS NULL OR s.until > d.due)
            )
        )
        """,
        (
            *params,
            width,
            first,
            last,
            width,
            first,
            last,
            STATUS_EVENTS,
            LifecycleEventKind.RESUMPTION.value,
        ),
    )


def _dues(equipment: tuple[str, tuple], width: int, first: dt.date, last: dt.date) -> list[tuple]:
    """(child, year, due, met) of the inspection due dates from `first` to `last`."""
    sql, params = _due_rows(equipment, width, first, last)
    return _run(
        sql
        + """
        SELECT child, extract(year FROM due)::int, count(*),
               count(*) FILTER (WHERE met_on <= due)
        FROM counted GROUP BY 1, 2
        """,
        params,
    )


def due_dates(
    scope: Scope, year: int, today: dt.date, *, met: bool | None, offset: int, limit: int
) -> tuple[int, list[tuple]]:
    """The due dates the inspection rate of `year` counted in the scope (met, missed or both),
    as (count, [(equipment_id, due, met_on), …] one page in due-date order)."""
    first, last = dt.date(year, 1, 1), period_end(year, today)
    sql, params = _due_rows(_scoped_equipment(scope), 0, first, last)
    where = {None: "TRUE", True: "met_on <= due", False: "met_on IS NULL OR met_on > due"}[met]
    rows = _run(
        sql
        + f"""
        SELECT count(*) OVER (), equipment_id, due, met_on FROM counted WHERE {where}
        ORDER BY due, equipment_id OFFSET %s LIMIT %s
        """,
        (*params, offset, limit),
    )
    if not rows:
        total_rows = _run(sql + f"SELECT count(*) FROM counted WHERE {where}", params)[0][0]
        return total_rows, []
    return rows[0][0], [row[1:] for row in rows]


def _child(width: int, column: str = "region_id"):
    # Left() refuses a length of 0: the whole scope is one row under ''.
    return Left(column, width) if width else Value("")


def _accidents(scope: Scope, width: int, first: dt.date, end: dt.date) -> list[dict]:
    """Accidents, deaths and injuries per child and year (the year in the server's time zone)."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    stop = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return list(
        Accident.objects.visible_to(scope)
        .filter(occurred_at__gte=start, occurred_at__lt=stop)
        .order_by()
        .values(child=_child(width), year=ExtractYear("occurred_at"))
        .annotate(n=Count("id"), killed=Sum("deaths"), hurt=Sum("injuries"))
    )


def _supervision(scope: Scope, width: int, first: dt.date, end: dt.date) -> list[dict]:
    """Per child and year of registration (the registration event, else the commissioning date, as
    the life cycle counts it): devices that needed a supervisory inspection before registration,
    and of those the ones with a passed inspection of every stage they need."""
    registered = (
        LifecycleEvent.objects.filter(equipment=OuterRef("pk"), kind=REGISTRATION)
        .order_by("occurred_on")
        .values("occurred_on")[:1]
    )
    return list(
        Equipment.objects.visible_to(scope)
        .annotate(registered_on=Coalesce(Subquery(registered), F("commissioned_on")))
        .filter(supervision.registration_required(), registered_on__range=(first, end))
        .order_by()
        .values(child=_child(width), year=ExtractYear("registered_on"))
        .annotate(n=Count("pk"), ok=Count("pk", filter=supervision.registration_supervised()))
    )


USE_REGISTRATION_CSV = Path(__file__).resolve().parent / "data" / "use_registration.csv"


@cache
def use_registration_rules() -> tuple[tuple[str, bool], ...]:
    """(catalogue code, needs a use registration) from the data table, longest code first: a
    variety's or class's row overrides its kind's."""
    with USE_REGISTRATION_CSV.open(encoding="utf-8", newline="") as file:
        rows = [(r["code"], r["needs_registration"] == "true") for r in csv.DictReader(file)]
    return tuple(sorted(rows, key=lambda r: -len(r[0].rstrip("0"))))


def needs_use_registration(code: str) -> bool:
    """Whether devices of this catalogue code need a use registration: the table's most specific
    row whose code (its non-zero head) the code starts with; a code no row covers, no."""
    for rule, needs in use_registration_rules():
        if code.startswith(rule.rstrip("0") or rule):
            return needs
    return False


def _use_registration(scope: Scope, width: int) -> list[dict]:
    """Per child: devices in use today whose kind needs a use registration, and of those the ones
    holding a certificate number. Current state: the register keeps no certificate history."""
    return list(
        Equipment.objects.visible_to(scope)
        .filter(
            variety_id__in=[
                v
                for v in Variety.objects.values_list("code", flat=True)
                if needs_use_registration(v)
            ],
            status=EquipmentStatus.IN_USE,
        )
        .order_by()
        .values(child=_child(width))
        .annotate(n=Count("pk"), ok=Count("pk", filter=~Q(certificate_number="")))
    )


def _unlicensed(scope: Scope, width: int, first: dt.date, end: dt.date) -> dict:
    """(child, year) → [findings, acted on]: the unlicensed-activity findings the scope sees whose
    activity day falls in the years, and those with a recorded action."""
    acted = {
        a.key for a in FindingAction.objects.visible_to(scope).only("equipment", "unit", "kind")
    }
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for f in licensing_findings.unlicensed(scope, today=end, since=first):
        row = counts[(f.region_id[:width] if width else "", f.day.year)]
        row[0] += 1
        row[1] += (f.equipment_id, f.unit_id, f.kind) in acted
    return counts


def measures_from_registry(
    scope: Scope, width: int, years: Sequence[int], today: dt.date
) -> Figures:
    """The measures of every child region (its code's first `width` digits) in each year."""
    years = sorted(years)
    figures: Figures = defaultdict(lambda: {year: Measures() for year in years})
    if scope.prefix is None or not years:
        return figures
    equipment = _scoped_equipment(scope)
    ends = [period_end(year, today) for year in years]
    first, last = dt.date(years[0], 1, 1), ends[-1]

    # The register at each year's end: registrations minus cancellations up to it.
    per_year: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for child, measure, year, n in _life_cycle(equipment, width, last):
        per_year[child][measure][year] = n
    for child, counts in per_year.items():
        for year, end in zip(years, ends, strict=True):
            row = figures[child][year]
            row.registrations = counts["registrations"].get(year, 0)
            row.cancellations = counts["cancellations"].get(year, 0)
            row.registered = sum(
                n for y, n in counts["registrations"].items() if y <= end.year
            ) - sum(n for y, n in counts["cancellations"].items() if y <= end.year)
            row.in_use = row.registered
    for child, year, n in _suspended(equipment, width, ends):
        figures[child][year].in_use -= n

    for child, year, due, met in _dues(equipment, width, first, last):
        figures[child][year].due = due
        figures[child][year].inspected_on_time = met

    for row in _accidents(scope, width, first, last):
        counts = figures[row["child"]][row["year"]]
        counts.accidents = row["n"]
        counts.deaths = row["killed"] or 0
        counts.injuries = row["hurt"] or 0

    for row in _supervision(scope, width, first, last):
        counts = figures[row["child"]][row["year"]]
        counts.supervision_required = row["n"]
        counts.supervised = row["ok"]

    for (child, year), (found, acted) in _unlicensed(scope, width, first, last).items():
        figures[child][year].unlicensed = found
        figures[child][year].unlicensed_acted = acted

    for row in _use_registration(scope, width):
        for year in years:
            figures[row["child"]][year].use_registration_required = row["n"]
            figures[row["child"]][year].use_registered = row["ok"]

    # Today's in-use and overdue devices: the dashboard's and the choropleth's own counts.
    counted = region_figures(
        Equipment.objects.visible_to(scope), Accident.objects.none(), today=today
    )
    for child, row in roll_up(counted.values(), width).items():
        for year in years:
            figures[child][year].overdue = row.overdue
            figures[child][year].in_use_now = row.in_use
    return figures


def total(figures: Figures, years: Sequence[int]) -> dict[int, Measures]:
    """The figures of every child summed per year."""
    summed = {year: Measures() for year in years}
    for per_year in figures.values():
        for year in years:
            summed[year].add(per_year[year])
    return summed
