"""What a supervisor sees first: the jurisdiction's registry in numbers, by kind and by sub-region.

`region_figures` is the one place where devices, in-use devices, overdue devices and accidents are
counted per region: the home dashboard and the map's region choropleth (maps/choropleth.py) both
read it, each with its own querysets (the whole registry here, the map's filtered layers there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from common.i18n import in_language
from geo.models import Level, Region
from registry.models import Accident, EmergencyResource, Equipment, Unit, Variety
from registry.models.equipment import EquipmentStatus, overdue_condition

# Sub-regions one level below the jurisdiction: national → provinces, province → cities, city/county → counties.
CHILD_PREFIX_LENGTH = {"": 2, Level.PROVINCE: 4, Level.CITY: 6, Level.COUNTY: 6}


@dataclass
class Row:
    code: str
    name: str
    devices: int = 0
    in_use: int = 0
    overdue: int = 0
    accidents: int = 0
    cylinders: int = 0  # gas cylinders in service (issue 21), not under the equipment filters
    overdue_cylinders: int = 0

    @property
    def overdue_rate(self) -> float:
        return self.overdue / self.in_use if self.in_use else 0.0

    @property
    def overdue_percent(self) -> str:
        return f"{self.overdue_rate:.1%}"

    def add(self, other: Row) -> None:
        self.devices += other.devices
        self.in_use += other.in_use
        self.overdue += other.overdue
        self.accidents += other.accidents
        self.cylinders += other.cylinders
        self.overdue_cylinders += other.overdue_cylinders


@dataclass
class Summary:
    jurisdiction: Region | None
    totals: Row
    by_kind: list[Row] = field(default_factory=list)
    by_region: list[Row] = field(default_factory=list)
    units: int = 0
    resources: int = 0
    accident_years: int = 5


def _counts(queryset: QuerySet, group_by, today: dt.date) -> dict[str, dict[str, int]]:
    rows = (
        queryset.order_by()
        .values(key=group_by)
        .annotate(
            devices=Count("id"),
            in_use=Count("id", filter=Q(status=EquipmentStatus.IN_USE)),
            overdue=Count("id", filter=overdue_condition(today)),
        )
    )
    return {r["key"]: r for r in rows}


def region_figures(equipment: QuerySet, accidents: QuerySet, *, today: dt.date) -> dict[str, Row]:
    """Devices, in use, overdue (on `today`) and accidents per region code of the rows (a county,
    as a rule): two queries, each grouped in the database."""
    figures = {
        code: Row(code, code, c["devices"], c["in_use"], c["overdue"])
        for code, c in _counts(equipment, F("region_id"), today).items()
    }
    for r in accidents.order_by().values(key=F("region_id")).annotate(n=Count("id")):
        figures.setdefault(r["key"], Row(r["key"], r["key"])).accidents = r["n"]
    return figures


def roll_up(figures: Iterable[Row], width: int) -> dict[str, Row]:
    """The figures summed per division-code prefix of `width` digits."""
    rolled: dict[str, Row] = {}
    for row in figures:
        key = row.code[:width]
        rolled.setdefault(key, Row(key, key)).add(row)
    return rolled


def jurisdiction_summary(user: User, *, accident_years: int = 5) -> Summary:
    agency = user.agency
    region = agency.region if agency else None
    level = region.level if region else ""
    prefix = user.jurisdiction_prefix or ""
    equipment = Equipment.objects.visible_to(user)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=365 * accident_years)
    accidents = Accident.objects.visible_to(user).filter(occurred_at__gte=since)

    today = timezone.localdate()
    kinds = {v.code: v for v in Variety.objects.filter(level="kind")}
    by_kind = [
        Row(
            code,
            in_language(kinds[code].name_zh, kinds[code].name_en) if code in kinds else code,
            c["devices"],
            c["in_use"],
            c["overdue"],
        )
        for code, c in sorted(_counts(equipment, F("kind"), today).items())
    ]
    width = CHILD_PREFIX_LENGTH[level]
    per_region = roll_up(region_figures(equipment, accidents, today=today).values(), width)
    children = Region.objects.within_prefix(prefix).filter(
        level={2: Level.PROVINCE, 4: Level.CITY, 6: Level.COUNTY}[width]
    )
    names = {r.code[:width]: r.name for r in children.only("code", "name")}
    # Every sub-region is listed, those without equipment too: a blank county is news as well.
    by_region = []
    for key in sorted(set(names) | set(per_region)):
        row = per_region.get(key) or Row(key, key)
        row.name = names.get(key, key)
        by_region.append(row)
    totals = Row(
        prefix,
        region.name if region else gettext("全国"),
        sum(r.devices for r in by_kind),
        sum(r.in_use for r in by_kind),
        sum(r.overdue for r in by_kind),
        sum(r.accidents for r in by_region),
    )
    return Summary(
        jurisdiction=region,
        totals=totals,
        by_kind=by_kind,
        by_region=by_region,
        units=Unit.objects.visible_to(user).count(),
        resources=EmergencyResource.objects.visible_to(user).count(),
        accident_years=accident_years,
    )
