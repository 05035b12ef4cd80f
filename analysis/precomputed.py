"""The desk's measures precomputed per county and year, with a daily snapshot of each county's
in-use and overdue devices: the pages, the evaluation, the report and the API read them here
(`measures`), so a province's page sums a few thousand rows instead of grouping millions.

A county's rows are computed by `analysis.figures.measures_from_registry` (the computation from
the registry tables, kept as this table's source and as the tests' oracle) as of a day: the
current year's figures run to that day (`CountyMeasureState.as_of`). Parents (cities, provinces,
the nation) are the sums of their counties at read time; the rates are formed from those sums
(analysis/indicators.py), never averaged.

Kept current three ways (docs/analysis.md, "Precomputed measures"):
- triggers (migration 0003) mark a county stale when a row behind its figures changes;
- `refresh_measures` recomputes the stale counties (after imports, on a timer), or every county
  and the day's snapshot (`--all`, nightly and after the demo load);
- a read first recomputes the counties of its scope that are stale or of another day, when they
  few and small (settings.ANALYSIS_READ_REFRESH_DEVICES), so figures are exact after a form's
  write; beyond that it answers from the table as it stands and says as of when.

A refresh takes its counties (the stale marks, or the date) in a transaction of its own before it
counts, so a writer never waits for a refresh: a write committed meanwhile marks its county again
and the next refresh counts it a second time. If the count fails the counties are marked again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from geo.scoping import Scope
from registry.models import Equipment
from registry.models.equipment import LifecycleEventKind

from .figures import REGISTRATION, STATUS_EVENTS, Measures, measures_from_registry

FIRST_YEAR = 1990
# Today's state (the same in every year of the figures) → its column in the day's snapshot.
CURRENT = {
    "in_use_now": "in_use",
    "overdue": "overdue",
    "use_registration_required": "use_registration_required",
    "use_registered": "use_registered",
}
YEARLY = [f.name for f in fields(Measures) if f.name not in CURRENT]  # CountyYearMeasure's
TABLE = "analysis_countyyearmeasure"
SNAPSHOTS = "analysis_countydaysnapshot"
STATE = "analysis_countymeasurestate"
STALE = "analysis_stalecounty"
KINDS = "analysis_countykindcount"
RESUMPTION = LifecycleEventKind.RESUMPTION.value
READ_COUNTIES = 12  # at most this many counties counted by a read (each is a statement set)
WRITE_LOCK = 0x5E615_0003  # the advisory lock key of the write step


class StoredFigures(defaultdict):
    """Figures (child prefix → year → Measures) read from the table, with when they were
    computed: `computed_at` the oldest county's refresh, `as_of` the oldest day counted to
    (None: nothing computed in the scope)."""

    computed_at: dt.datetime | None = None
    as_of: dt.date | None = None


def computed_at(figures) -> dt.datetime | None:
    return getattr(figures, "computed_at", None)


def _child(width: int) -> str:
    return f"left(county, {int(width)})" if width else "''"


def measures(scope: Scope, width: int, years: Sequence[int], today: dt.date) -> StoredFigures:
    """The measures of every child region (its code's first `width` digits) in each year, summed
    from the counties' rows; counties of the scope stale or of another day are recomputed first
    when they are few."""
    years = sorted(years)
    figures = StoredFigures(lambda: {year: Measures() for year in years})
    if scope.prefix is None or not years:
        return figures
    _catch_up_on_read(scope.prefix, today)
    child = _child(width)
    sums = ", ".join(f"sum({name})::int" for name in YEARLY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {child}, year, {sums} FROM {TABLE} "
            "WHERE county ^@ %s AND year = ANY(%s) GROUP BY 1, 2",
            [scope.prefix, list(years)],
        )
        for row in cursor.fetchall():
            figures[row[0]][row[1]] = Measures(**dict(zip(YEARLY, row[2:], strict=True)))
        # Today's state: each county's latest snapshot up to the day its figures run to.
        columns = ", ".join(CURRENT.values())
        summed = ", ".join(f"sum(s.{column})::int" for column in CURRENT.values())
        cursor.execute(
            f"SELECT {child.replace('county', 'st.county')}, {summed} "
            f"FROM {STATE} st CROSS JOIN LATERAL ("
            f"  SELECT {columns} FROM {SNAPSHOTS} s WHERE s.county = st.county "
            "   AND s.day <= st.as_of ORDER BY s.day DESC LIMIT 1"
            ") s WHERE st.county ^@ %s GROUP BY 1",
            [scope.prefix],
        )
        for prefix, *values in cursor.fetchall():
            if any(values):
                for year in years:
                    for name, value in zip(CURRENT, values, strict=True):
                        setattr(figures[prefix][year], name, value)
        cursor.execute(
            f"SELECT min(computed_at), min(as_of) FROM {STATE} WHERE county ^@ %s",
            [scope.prefix],
        )
        figures.computed_at, figures.as_of = cursor.fetchone()
    return figures


@dataclass(frozen=True)
class Snapshot:
    """The area's state on a year's last snapshot day: the measures of today's state (CURRENT),
    the latest day read and whether any county's row there was derived."""

    measures: Measures
    day: dt.date
    derived: bool


def snapshot_trend(scope: Scope, years: Sequence[int], today: dt.date) -> dict[int, Snapshot]:
    """Each year's state of the area from the daily snapshots: per county its latest snapshot in
    that year (up to the day its figures run to), summed; a year no county has a snapshot of is
    left out. `measures` first, so its counties are caught up."""
    if scope.prefix is None or not years:
        return {}
    summed = ", ".join(f"sum(s.{column})::int" for column in CURRENT.values())
    columns = ", ".join(CURRENT.values())
    with connection.cursor() as cursor:
        # One index probe per county and year: ~1,000 for a province's ten years.
        cursor.execute(
            f"SELECT y.year, max(s.day), bool_or(s.derived), {summed} "
            f"FROM unnest(%s::int[]) AS y(year) CROSS JOIN {STATE} st CROSS JOIN LATERAL ("
            f"  SELECT day, derived, {columns} FROM {SNAPSHOTS} s WHERE s.county = st.county "
            "   AND s.day >= make_date(y.year, 1, 1) "
            "   AND s.day <= least(make_date(y.year, 12, 31), st.as_of, %s) "
            "   ORDER BY s.day DESC LIMIT 1"
            ") s WHERE st.county ^@ %s GROUP BY 1",
            [sorted(years), today, scope.prefix],
        )
        found = {}
        for year, day, derived, *values in cursor.fetchall():
            state = Measures(**dict(zip(CURRENT, values, strict=True)))
            found[year] = Snapshot(state, day, derived)
    return found


def kind_counts(scope: Scope, today: dt.date) -> dict[tuple[str, str], int]:
    """Devices in the register by (kind, status) in the scope, summed from its counties."""
    if scope.prefix is None:
        return {}
    _catch_up_on_read(scope.prefix, today)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, status, sum(devices)::int FROM {KINDS} WHERE county ^@ %s GROUP BY 1, 2",
            [scope.prefix],
        )
        return {(kind, status): n for kind, status, n in cursor.fetchall()}


def holds_nothing_outside(prefix: str) -> bool:
    """Whether no county outside the prefix has figures (then the nation's are the prefix's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT NOT EXISTS (SELECT 1 FROM {STATE} WHERE NOT county ^@ %s)", [prefix]
        )
        return cursor.fetchone()[0]


# --------------------------------------------------------------------------- refresh


@dataclass
class Refreshed:
    counties: int = 0
    rows: int = 0
    seconds: float = 0.0


def _take(prefix: str, today: dt.date, limit: int | None, devices: int | None = None) -> list[str]:
    """Claim the counties under the prefix that are marked stale or counted to another day, in a
    transaction of its own; none (and nothing claimed) if more than `limit` of them, or if they
    hold more than `devices` devices together."""
    with transaction.atomic(), connection.cursor() as cursor:
        cap = "" if limit is None else f"LIMIT {int(limit) + 1}"
        cursor.execute(
            f"SELECT county FROM {STALE} WHERE county ^@ %s UNION "
            f"SELECT county FROM {STATE} WHERE county ^@ %s AND as_of <> %s {cap}",
            [prefix, prefix, today],
        )
        found = [county for (county,) in cursor.fetchall()]
        if not found or (limit is not None and len(found) > limit):
            return []
        if devices is not None:
            cursor.execute(
                "SELECT count(*) FROM registry_equipment WHERE region_id = ANY(%s)", [found]
            )
            if cursor.fetchone()[0] > devices:
                return []
        # Another reader taking the same counties waits for this commit, then finds them taken.
        cursor.execute(f"DELETE FROM {STALE} WHERE county = ANY(%s) RETURNING county", [found])
        taken = {county for (county,) in cursor.fetchall()}
        cursor.execute(
            f"UPDATE {STATE} SET as_of = %s WHERE county = ANY(%s) AND as_of <> %s "
            "RETURNING county",
            [today, found, today],
        )
        taken |= {county for (county,) in cursor.fetchall()}
    return sorted(taken)


def mark_stale(counties: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {STALE} (county, marked_at) SELECT unnest(%s::varchar[]), now() "
            "ON CONFLICT (county) DO NOTHING",
            [sorted(set(counties))],
        )


def catch_up(
    prefix: str, today: dt.date, limit: int | None, *, whole_provinces: bool = True
) -> Refreshed:
    """Recompute the counties under the prefix that are stale or counted to another day (all of
    them with limit None; none if more than `limit`)."""
    counties = _take(prefix, today, limit)
    if not counties:
        return Refreshed()
    return _recount(counties, today, whole_provinces=whole_provinces)


def _catch_up_on_read(prefix: str, today: dt.date) -> None:
    """A read's catching up: a few small counties (a form's write), each counted alone (not a
    province's pass, tens of seconds at 2 M devices); the rest is the refresh timer's."""
    devices = settings.ANALYSIS_READ_REFRESH_DEVICES
    if devices <= 0:
        return
    counties = _take(prefix, today, READ_COUNTIES, devices)
    if counties:
        _recount(counties, today, whole_provinces=False)


def after_import(sender, job, **kwargs) -> None:
    """The counties a committed import changed (and any other stale one), in the worker."""
    catch_up("", timezone.localdate(), limit=None)


def every_county() -> list[str]:
    """The counties with a device, an accident, or figures of their own (to be zeroed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT region_id FROM registry_equipment WHERE region_id IS NOT NULL "
            f"UNION SELECT region_id FROM registry_accident WHERE region_id IS NOT NULL "
            f"UNION SELECT county FROM {STATE}"
        )
        return sorted(county for (county,) in cursor.fetchall())


def refresh(counties: Collection[str] | None = None, today: dt.date | None = None) -> Refreshed:
    """Recompute the given counties (None: every county) as of `today` and take the day's
    snapshot; their stale marks are taken first."""
    today = today or timezone.localdate()
    counties = every_county() if counties is None else sorted(set(counties))
    if not counties:
        return Refreshed()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STALE} WHERE county = ANY(%s)", [counties])
    return _recount(counties, today)


def _scopes(counties: Sequence[str], whole_provinces: bool) -> list[tuple[str, list[str]]]:
    """The scopes to count the counties in: a whole province when it holds several of them (one
    pass over its rows), else each county alone (an index range each)."""
    by_province: dict[str, list[str]] = defaultdict(list)
    for county in counties:
        by_province[county[:2]].append(county)
    scopes = []
    for province, members in sorted(by_province.items()):
        if whole_provinces and len(members) > 3:
            scopes.append((province, members))
        else:
            scopes += [(county, [county]) for county in members]
    return scopes


def _recount(counties: Sequence[str], today: dt.date, *, whole_provinces: bool = True) -> Refreshed:
    import time

    started = time.perf_counter()
    done = Refreshed()
    years = list(range(FIRST_YEAR, today.year + 1))
    pending = list(counties)
    try:
        for prefix, members in _scopes(counties, whole_provinces):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Counting a province at 2 M devices runs past a request's statement bound.
                    timeout = int(settings.JOB_STATEMENT_TIMEOUT * 1000)
                    cursor.execute(f"SET LOCAL statement_timeout = {timeout}")
                counted = measures_from_registry(Scope(prefix), 6, years, today)
                done.rows += _write(members, counted, years, today, _kinds(prefix))
            done.counties += len(members)
            pending = [county for county in pending if county not in set(members)]
    except BaseException:
        mark_stale(pending)
        raise
    done.seconds = time.perf_counter() - started
    return done


def _kinds(prefix: str) -> list[tuple]:
    """(county, kind, status, devices) of the register under the prefix today."""
    rows = (
        Equipment.objects.visible_to(Scope(prefix))
        .order_by()
        .values_list("region_id", "kind", "status")
        .annotate(n=Count("id"))
    )
    return list(rows)


# A day's in-use and overdue devices worked out from the records, per county: in use that day
# (registered by then, its last status event by then not a suspension or cancellation), and
# overdue by the map's definition applied to the due date then in force: the one set by its last
# inspection on or before the day (none after a failed one: overdue), or for a device never
# inspected the one set at registration. A device inspected only after the day had a due date
# then that the register no longer keeps: it is counted in use and not overdue (so the derived
# share is a floor).
_BACKFILL = """
WITH e AS ({equipment}),
days AS (SELECT unnest(%s::date[]) AS day),
registered AS (
    SELECT e.id, e.region_id AS county, e.next_inspection_due,
           COALESCE(min(ev.occurred_on), e.commissioned_on,
                    (e.created_at AT TIME ZONE %s)::date) AS since
    FROM e LEFT JOIN registry_lifecycleevent ev ON ev.equipment_id = e.id AND ev.kind = %s
    GROUP BY e.id, e.region_id, e.commissioned_on, e.created_at, e.next_inspection_due
),
in_use AS (
    SELECT r.id, r.county, r.next_inspection_due, d.day
    FROM registered r JOIN days d ON r.since <= d.day
    WHERE NOT EXISTS (
        SELECT 1 FROM (
            SELECT ev.kind FROM registry_lifecycleevent ev
            WHERE ev.equipment_id = r.id AND ev.kind = ANY(%s) AND ev.occurred_on <= d.day
            ORDER BY ev.occurred_on DESC, ev.id DESC LIMIT 1
        ) last WHERE last.kind <> %s
    )
)
SELECT u.county, u.day, count(*),
       count(*) FILTER (WHERE CASE
           WHEN li.inspected_on IS NOT NULL THEN li.next_due IS NULL OR li.next_due < u.day
           WHEN NOT EXISTS (SELECT 1 FROM registry_inspection i WHERE i.equipment_id = u.id)
               THEN u.next_inspection_due IS NULL OR u.next_inspection_due < u.day
           ELSE false END)
FROM in_use u LEFT JOIN LATERAL (
    SELECT i.inspected_on, i.next_due FROM registry_inspection i
    WHERE i.equipment_id = u.id AND i.inspected_on <= u.day
    ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1
) li ON true
GROUP BY 1, 2
"""


def backfill(days: Sequence[dt.date], prefix: str = "") -> int:
    """Derived snapshots of past days (say, each year's end) for every county under the prefix;
    a snapshot taken on a day is never replaced. The number of rows written."""
    rows = (
        Equipment.objects.visible_to(Scope(prefix))
        .order_by()
        .values("id", "region_id", "commissioned_on", "created_at", "next_inspection_due")
    )
    sql, params = rows.query.sql_with_params()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SET LOCAL statement_timeout = {int(settings.JOB_STATEMENT_TIMEOUT * 1000)}"
        )
        cursor.execute(
            _BACKFILL.format(equipment=sql),
            [*params, sorted(days), settings.TIME_ZONE, REGISTRATION, STATUS_EVENTS, RESUMPTION],
        )
        counted = cursor.fetchall()
        cursor.executemany(
            # The register keeps no history of use-registration numbers: none derived (0).
            f"INSERT INTO {SNAPSHOTS} (county, day, in_use, overdue, use_registration_required, "
            "use_registered, taken_at, derived) "
            "VALUES (%s, %s, %s, %s, 0, 0, %s, true) ON CONFLICT (county, day) DO UPDATE SET "
            "in_use = EXCLUDED.in_use, overdue = EXCLUDED.overdue, taken_at = EXCLUDED.taken_at "
            f"WHERE {SNAPSHOTS}.derived",
            [(county, day, n, overdue, now) for county, day, n, overdue in counted],
        )
    return len(counted)


def _write(
    counties: list[str], counted, years: list[int], today: dt.date, kinds: list[tuple]
) -> int:
    now = timezone.now()
    rows = []
    snapshots = []
    for county in counties:
        per_year = counted.get(county, {})
        for year in years:
            m = per_year.get(year)
            if m is None:
                continue
            values = [getattr(m, name) for name in YEARLY]
            if any(values):
                rows.append((county, year, *values))
        current = per_year.get(years[-1]) or Measures()
        snapshots.append((county, today, *(getattr(current, n) for n in CURRENT), now))
    with connection.cursor() as cursor:
        # One writer at a time (a short step): two refreshes of a county would both insert its
        # years.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        cursor.execute(f"DELETE FROM {TABLE} WHERE county = ANY(%s)", [counties])
        if rows:
            columns = ", ".join(["county", "year", *YEARLY])
            marks = ", ".join(["%s"] * (len(YEARLY) + 2))
            cursor.executemany(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", rows)
        cursor.execute(f"DELETE FROM {KINDS} WHERE county = ANY(%s)", [counties])
        members = set(counties)
        cursor.executemany(
            f"INSERT INTO {KINDS} (county, kind, status, devices) VALUES (%s, %s, %s, %s)",
            [row for row in kinds if row[0] in members],
        )
        columns = ", ".join(CURRENT.values())
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CURRENT.values())
        marks = ", ".join(["%s"] * len(CURRENT))
        cursor.executemany(
            f"INSERT INTO {SNAPSHOTS} (county, day, {columns}, taken_at, derived) "
            f"VALUES (%s, %s, {marks}, %s, false) ON CONFLICT (county, day) DO UPDATE SET "
            f"{updates}, taken_at = EXCLUDED.taken_at, derived = false",
            snapshots,
        )
        cursor.executemany(
            f"INSERT INTO {STATE} (county, as_of, computed_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (county) DO UPDATE SET as_of = EXCLUDED.as_of, "
            "computed_at = EXCLUDED.computed_at",
            [(county, today, now) for county in counties],
        )
    return len(rows)
