"""无证生产 / 无证安装: a device's manufacture or installation (or modification, major repair)
recorded by a unit that held no licence of that kind, in force that day, whose scope covers the
device's kind, class or variety. One SQL statement over the jurisdiction's devices."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from geo.scoping import Scope

from . import rules

# Licences run four years (TSG 07-2019): an activity older than one licence period was done under
# licences the register may never have been given, so the rule looks back this far by default.
LOOK_BACK_DAYS = 4 * 365

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
   AND NOT EXISTS (
       SELECT 1 FROM licensing_licence l JOIN licensing_licencescope s ON s.licence_id = l.id
        WHERE l.unit_id = a.unit_id AND l.kind = a.kind
          AND l.issued_on <= a.day AND l.expires_on >= a.day
          AND NOT (l.status IN ('suspended', 'revoked') AND l.status_since <= a.day)
          AND s.code IN (e.variety_id, left(e.variety_id, 2) || '00', e.kind))
 ORDER BY a.equipment_id, a.kind, a.unit_id, a.day
) f ORDER BY f.day DESC, f.equipment_id, f.kind
"""


@dataclass(frozen=True)
class Finding:
    equipment_id: int
    unit_id: int
    kind: str  # the licence kind the activity needed: manufacture or installation
    day: dt.date
    region_id: str


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
    """The findings among the devices the user may see, activities from `since` to `today`."""
    text, params = statement(user, today=today, since=since)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        return [Finding(*row) for row in cursor.fetchall()]


def equipment_ids_sql(user, *, today: dt.date) -> tuple[str, list]:
    """The devices with a finding, as a subquery (the map layer's rows)."""
    text, params = statement(user, today=today)
    return f"SELECT equipment_id FROM ({text}) f", params
