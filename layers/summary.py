"""What a supervisor sees first: the jurisdiction's registry in numbers, by kind and by sub-region."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, Q
from django.db.models.functions import Substr

from accounts.models import User
from geo.models import Level, Region
from registry.models import Accident, EmergencyResource, Equipment, Unit, Variety
from registry.models.equipment import EquipmentStatus

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

    @property
    def overdue_rate(self) -> float:
        return self.overdue / self.in_use if self.in_use else 0.0

    @property
    def overdue_percent(self) -> str:
        return f"{self.overdue_rate:.1%}"


@dataclass
class Summary:
    jurisdiction: Region | None
    totals: Row
    by_kind: list[Row] = field(default_factory=list)
    by_region: list[Row] = field(default_factory=list)
    units: int = 0
    resources: int = 0
    accident_years: int = 5


def _counts(queryset, group_by) -> dict[str, dict[str, int]]:
    today = dt.date.today()
    overdue = Q(status=EquipmentStatus.IN_USE) & (
        Q(next_inspection_due__lt=today) | Q(next_inspection_due__isnull=True)
    )
    rows = queryset.values(key=group_by).annotate(
        devices=Count("id"),
        in_use=Count("id", filter=Q(status=EquipmentStatus.IN_USE)),
        overdue=Count("id", filter=overdue),
    )
    return {r["key"]: r for r in rows}


def jurisdiction_summary(user: User, *, accident_years: int = 5) -> Summary:
    agency = user.agency
    region = agency.region if agency else None
    level = region.level if region else ""
    prefix = user.jurisdiction_prefix or ""
    equipment = Equipment.objects.visible_to(user)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=365 * accident_years)
    accidents = Accident.objects.visible_to(user).filter(occurred_at__gte=since)

    kinds = {v.code: v for v in Variety.objects.filter(level="kind")}
    by_kind = [
        Row(
            code,
            f"{kinds[code].name_zh} / {kinds[code].name_en}" if code in kinds else code,
            c["devices"],
            c["in_use"],
            c["overdue"],
        )
        for code, c in sorted(_counts(equipment, F("kind")).items())
    ]
    width = CHILD_PREFIX_LENGTH[level]
    per_region = _counts(equipment, Substr("region_id", 1, width))
    accidents_per_region = {
        r["key"]: r["n"]
        for r in accidents.values(key=Substr("region_id", 1, width)).annotate(n=Count("id"))
    }
    children = Region.objects.within_prefix(prefix).filter(
        level={2: Level.PROVINCE, 4: Level.CITY, 6: Level.COUNTY}[width]
    )
    names = {r.code[:width]: r.name for r in children.only("code", "name")}
    # Every sub-region is listed, those without equipment too: a blank county is news as well.
    empty = {"devices": 0, "in_use": 0, "overdue": 0}
    by_region = [
        Row(
            key,
            names.get(key, key),
            c["devices"],
            c["in_use"],
            c["overdue"],
            accidents_per_region.get(key, 0),
        )
        for key in sorted(set(names) | set(per_region))
        for c in [per_region.get(key, empty)]
    ]
    totals = Row(
        prefix,
        region.name if region else "全国 / National",
        sum(r.devices for r in by_kind),
        sum(r.in_use for r in by_kind),
        sum(r.overdue for r in by_kind),
        sum(accidents_per_region.values()),
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
