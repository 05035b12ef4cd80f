"""The filling rules (GB/T 38059-2019, TSG 23-2021): which fillings are violations.

One definition, read by both the live ingest (cylinders.services.record_fillings) and the batch
re-check (cylinders.services.recheck_fillings): each rule is a SQL condition over a filling `f`
(station_id, tag, filled_at, check_passed), its cylinder `c` (joined by tag, NULL when the tag is
unregistered) and the filling's local calendar day `d`; the station's licence is the licence
register's (licensing: a filling licence in force that day covering cylinders, the same test the
unlicensed-activity rule makes). Set-based SQL because an ingest batch is checked in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from licensing.findings import in_force_sql

# The catalogue code a filling licence must cover for gas cylinders (licensing/data/scope_grades.csv).
CYLINDER_SCOPE = "2300"


class Rule(TextChoices):
    UNREGISTERED = "unregistered", _("未登记气瓶")
    OVERDUE = "overdue", _("超期未检")
    PAST_SCRAP = "past_scrap", _("超过设计使用年限或已报废")
    LOST = "lost", _("已登记丢失")
    OTHER_STATION = "other_station", _("非本单位产权气瓶")
    LICENCE_EXPIRED = (
        "licence_expired",
        _("充装许可证过期或缺失"),
    )
    CHECK_FAILED = (
        "check_failed",
        _("充装前检查不合格仍充装"),
    )


@dataclass(frozen=True)
class Condition:
    rule: Rule
    sql: str


CONDITIONS = (
    Condition(Rule.UNREGISTERED, "c.id IS NULL"),
    Condition(Rule.OVERDUE, "c.next_inspection_due < d.day"),
    Condition(Rule.PAST_SCRAP, "(c.scrap_on <= d.day OR c.status = 'scrapped')"),
    Condition(Rule.LOST, "c.status = 'lost'"),
    Condition(Rule.OTHER_STATION, "c.owner_id <> f.station_id"),
    Condition(
        Rule.LICENCE_EXPIRED,
        "NOT " + in_force_sql("f.station_id", "'filling'", "d.day", f"'{CYLINDER_SCOPE}'"),
    ),
    Condition(Rule.CHECK_FAILED, "NOT f.check_passed"),
)


def local_day(column: str = "f.filled_at") -> str:
    """The filling's calendar day where the station is (the project's time zone)."""
    return f"(({column}) AT TIME ZONE '{settings.TIME_ZONE}')::date"


def broken_sql() -> str:
    """A jsonb array of the rule ids the row breaks, in CONDITIONS order (`[]` for none)."""
    cases = ", ".join(f"CASE WHEN {c.sql} THEN '{c.rule.value}' END" for c in CONDITIONS)
    return f"to_jsonb(array_remove(ARRAY[{cases}]::text[], NULL))"


def joins(filling: str = "f") -> str:
    """The cylinder and local day a filling's rules read, as FROM-clause joins."""
    return (
        f"LEFT JOIN cylinders_cylinder c ON c.tag = {filling}.tag "
        f"CROSS JOIN LATERAL (SELECT {local_day(f'{filling}.filled_at')} AS day) d"
    )


def label(rule: str) -> str:
    try:
        return str(Rule(rule).label)
    except ValueError:
        return rule
