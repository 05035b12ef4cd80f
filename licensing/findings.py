"""无证生产 / 无证安装 / 无证充装: a device's manufacture or installation (or modification, major
repair) recorded by a unit that held no licence of that kind, in force that day, whose scope covers
the device's kind, class or variety — one SQL statement over the jurisdiction's devices — and the
activities with no device behind them that apps above this one add (a station's filling:
cylinders.reads.unlicensed_filling), judged by the same licence test (`in_force_sql`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from geo.scoping import Scope

from . import rules

# Licences run four years (TSG 07-2019): an activity older than one licence period was done under
# licences the register may never have been given, so the rule looks back this far by default.
LOOK_BACK_DAYS = 4 * 365


def in_force_sql(unit: str, kind: str, day: str, codes: str) -> str:
    """SQL that is true when `unit` held a licence of `kind` in force on `day` (issued, not past
    expiry, not suspended or revoked by then: LicenceQuerySet.valid_on) whose scope lists one of
    `codes`. The arguments are SQL expressions (columns, literals), spliced as they are: the one
    test of "licensed that day" for every rule that asks it."""
    return f"""EXISTS (
        SELECT 1 FROM licensing_licence lic JOIN licensing_licencescope lsc ON lsc.licence_id = lic.id
         WHERE lic.unit_id = {unit} AND lic.kind = {kind}
           AND lic.issued_on <= {day} AND lic.expires_on >= {day}
           AND NOT (lic.status IN ('suspended', 'revoked') AND lic.status_since <= {day})
           AND lsc.code IN ({codes}))"""


# The activities of a device and the licence kind each needs: the device's own maker and
# installer fields, and the life-cycle events naming a unit. {scope} filters devices `e`.
_ACTIVITIES = """
    SELECT e.id AS equipment_id, e.manufacturer_id AS unit_id, 'manufacture' AS kind,
           e.manufactured_on AS day
      FROM registry_equipment e
     WHERE e.manufacturer_id IS NOT NULL AND e.manufactured_on IS NOT NULL AND {scope}
    UNION
    SELECT e.id, e.installer_id, 'installation',
           COALESCE((SELECT min(v.occurred_on) FROM registry_lifecycleevent v
                      WHERE v.equipment_id = e.id AND v.kind = 'installation'), e.commissioned_on)
      FROM registry_equipment e
     WHERE e.installer_id IS NOT NULL AND {scope}
    UNION
    SELECT v.equipment_id, v.unit_id,
           CASE v.kind WHEN 'manufacture' THEN 'manufacture' ELSE 'installation' END, v.occurred_on
      FROM registry_lifecycleevent v JOIN registry_equipment e ON e.id = v.equipment_id
     WHERE v.unit_id IS NOT NULL AND {scope}
       AND v.kind IN ('manufacture', 'installation', 'modification', 'major_repair')
"""

# The newest first: what a supervisor acts on.
FINDINGS_SQL = f"""
WITH acts AS ({_ACTIVITIES})
SELECT * FROM (
SELECT DISTINCT ON (a.equipment_id, a.kind, a.unit_id)
       a.equipment_id, a.unit_id, a.kind, a.day, e.region_id
  FROM acts a JOIN registry_equipment e ON e.id = a.equipment_id
 WHERE a.day IS NOT NULL AND a.day >= %s AND a.day <= %s
   -- Only kinds whose making or installing is licensed at all (the scope table lists them).
   AND ((a.kind = 'manufacture' AND left(e.kind, 1) = ANY(%s))
        OR (a.kind = 'installation' AND left(e.kind, 1) = ANY(%s)))
   AND NOT {in_force_sql("a.unit_id", "a.kind", "a.day", "e.variety_id, left(e.variety_id, 2) || '00', e.kind")}
 ORDER BY a.equipment_id, a.kind, a.unit_id, a.day
) f ORDER BY f.day DESC, f.equipment_id, f.kind
"""


@dataclass(frozen=True)
class Finding:
    equipment_id: int | None  # None: an activity with no device behind it (a station's filling)
    unit_id: int
    kind: str  # the licence kind the activity needed: manufacture, installation or filling
    day: dt.date
    region_id: str


# (division prefix, today, since) -> the SQL, with its parameters, of the findings of one kind of
# activity that has no device behind it under that prefix ('' for all): rows of Finding's fields in
# their order. SQL rather than rows, so that a map layer holds it as a subquery.
Finder = Callable[[str, dt.date, dt.date], tuple[str, list]]
_FINDERS: list[Finder] = []
_NO_FINDINGS = "SELECT NULL::integer, NULL::integer, NULL::text, NULL::date, NULL::text WHERE FALSE"


def register_finder(finder: Finder) -> None:
    """Add the findings of an activity an app above this one records (cylinders' fillings), from
    its AppConfig.ready(): the list, its count, the indicators and the map then include them."""
    if finder not in _FINDERS:
        _FINDERS.append(finder)


def statement(
    user, *, today: dt.date, since: dt.date | None = None, equipment_id: int | None = None
) -> tuple[str, list]:
    """The findings statement over the devices the user may see (one of them, given its id), with
    its parameters (the jurisdiction's prefix test on the devices' indexed region column, three
    times)."""
    scope = Scope.of(user)
    since = since or today - dt.timedelta(days=LOOK_BACK_DAYS)
    tail = [since, today, licensed_kinds("manufacture"), licensed_kinds("installation")]
    if scope.prefix is None:
        return FINDINGS_SQL.replace("{scope}", "FALSE"), tail
    tests, each = [], []
    if scope.prefix:
        tests.append("e.region_id ^@ %s")
        each.append(scope.prefix)
    if equipment_id is not None:
        tests.append("e.id = %s")
        each.append(equipment_id)
    return FINDINGS_SQL.replace("{scope}", " AND ".join(tests) or "TRUE"), each * 3 + tail


def activity_kinds(prefix: str) -> set[tuple[int, str, str]]:
    """(unit, licence kind, device kind) of every activity under a division prefix: what each
    unit does, for the demo's licences."""
    text = f"WITH acts AS ({_ACTIVITIES}) " + (
        "SELECT DISTINCT a.unit_id, a.kind, e.kind FROM acts a "
        "JOIN registry_equipment e ON e.id = a.equipment_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(text.replace("{scope}", "e.region_id ^@ %s"), [prefix] * 3)
        return set(cursor.fetchall())


def licensed_kinds(kind: str) -> list[str]:
    """The catalogue kinds' first characters whose making (or installing) needs a licence: those
    the scope table (licensing/data/scope_grades.csv) has a grade for."""
    return sorted({g.code[0] for g in rules.grades_of(kind)})


def unlicensed(user, *, today: dt.date, since: dt.date | None = None) -> list[Finding]:
    """The findings the user may see (their devices', their stations'), activities from `since`
    to `today`, the newest first."""
    since = since or today - dt.timedelta(days=LOOK_BACK_DAYS)
    found = _of_devices(user, today=today, since=since) + without_device(user, today, since)
    return sorted(found, key=lambda f: (-f.day.toordinal(), f.equipment_id or 0, f.kind))


def _of_devices(user, *, today: dt.date, since: dt.date, equipment_id: int | None = None):
    text, params = statement(user, today=today, since=since, equipment_id=equipment_id)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        return [Finding(*row) for row in cursor.fetchall()]


def without_device_sql(user, today: dt.date, since: dt.date | None = None) -> tuple[str, list]:
    """The findings of activities with no device behind them (a station's filling: the finders
    apps above this one registered) that the user may see, as SQL (columns named as Finding's
    fields) with its parameters."""
    since = since or today - dt.timedelta(days=LOOK_BACK_DAYS)
    prefix = Scope.of(user).prefix
    parts = [finder(prefix, today, since) for finder in _FINDERS] if prefix is not None else []
    text = " UNION ALL ".join(f"({part})" for part, _ in parts or [(_NO_FINDINGS, [])])
    fields = ", ".join(Finding.__dataclass_fields__)
    return f"SELECT * FROM ({text}) AS f({fields})", [p for _, params in parts for p in params]


def without_device(user, today: dt.date, since: dt.date | None = None) -> list[Finding]:
    """without_device_sql's findings."""
    text, params = without_device_sql(user, today, since)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        return [Finding(*row) for row in cursor.fetchall()]


def finding(
    user, *, today: dt.date, equipment_id: int | None, unit_id: int, kind: str
) -> Finding | None:
    """The one finding of the user's list today with this device (none: a device-less one), unit
    and licence kind, or None: the list's own test, run on that device alone."""
    found = (
        without_device(user, today)
        if equipment_id is None
        else _of_devices(user, today=today, since=today - dt.timedelta(days=LOOK_BACK_DAYS),
                         equipment_id=equipment_id)
    )  # fmt: skip
    return next(
        (f for f in found if (f.equipment_id, f.unit_id, f.kind) == (equipment_id, unit_id, kind)),
        None,
    )


def equipment_ids_sql(user, *, today: dt.date) -> tuple[str, list]:
    """The devices with a finding, as a subquery (the map layer's rows)."""
    text, params = statement(user, today=today)
    return f"SELECT equipment_id FROM ({text}) f", params
