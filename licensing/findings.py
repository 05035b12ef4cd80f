"""无证生产 / 无证安装 / 无证充装: a device's manufacture or installation (or modification, major
repair) recorded by a unit that held no licence of that kind, in force that day, whose scope covers
the device's kind, class or variety — one SQL statement over the jurisdiction's devices — and the
activities with no device behind them that apps above this one add (a station's filling:
cylinders.reads.unlicensed_filling), judged by the same licence test (`in_force_sql`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


# (user, today, since) -> the findings of one kind of activity that has no device behind it.
Finder = Callable[[Any, dt.date, dt.date], list[Finding]]
_FINDERS: list[Finder] = []


def register_finder(finder: Finder) -> None:
    """Add the findings of an activity an app above this one records (cylinders' fillings), from
    its AppConfig.ready(): the list, its count and the indicators then include them."""
    if finder not in _FINDERS:
        _FINDERS.append(finder)


def statement(user, *, today: dt.date, since: dt.date | None = None) -> tuple[str, list]:
    """The findings statement over the devices the user may see, with its parameters (the
    jurisdiction's prefix test on the devices' indexed region column, three times)."""
    scope = Scope.of(user)
    since = since or today - dt.timedelta(days=LOOK_BACK_DAYS)
    tail = [since, today, licensed_kinds("manufacture"), licensed_kinds("installation")]
    if scope.prefix is None:
        return FINDINGS_SQL.replace("{scope}", "FALSE"), tail
    if not scope.prefix:
        return FINDINGS_SQL.replace("{scope}", "TRUE"), tail
    text = FINDINGS_SQL.replace("{scope}", "e.region_id ^@ %s")
    return text, [scope.prefix] * 3 + tail


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
    text, params = statement(user, today=today, since=since)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        found = [Finding(*row) for row in cursor.fetchall()]
    if not _FINDERS:
        return found
    for finder in _FINDERS:
        found.extend(finder(user, today, since))
    return sorted(found, key=lambda f: (-f.day.toordinal(), f.equipment_id or 0, f.kind))


def equipment_ids_sql(user, *, today: dt.date) -> tuple[str, list]:
    """The devices with a finding, as a subquery (the map layer's rows)."""
    text, params = statement(user, today=today)
    return f"SELECT equipment_id FROM ({text}) f", params
