"""What the desk answers: the area a user reads (their jurisdiction or a division inside it), its
indicators for a year with their trend and comparisons, its child regions, its devices by kind
and status, and the choropleth of one indicator. The API, the page and the downloads all call
these, so a chart, its table and its file hold the same numbers.

Comparisons: the parent region's figures only when the user's jurisdiction covers the parent (a
province user drilled down to a county sees its city; a county user sees no city figure, which
less their own county would be their neighbours' total). The national figure of the rates
(percentages, per 10,000) for every user: a rate over the whole nation, without its numerator and
denominator, cannot be taken apart into any county's figures, and it is the benchmark every
supervisor is measured against. National counts only for national users.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from common.errors import DomainError, Problem
from common.i18n import in_language
from geo.basemap import outline_tolerance
from geo.divisions import child_level, child_width
from geo.models import Level, Region
from geo.scoping import NATIONAL, Scope
from maps.choropleth import Classes, region_outlines
from registry.models import Variety
from registry.models.equipment import EquipmentStatus

from .figures import Figures, Measures, period_end, total
from .indicators import BY_KEY, INDICATORS, PERCENT, Indicator
from .precomputed import (
    FIRST_YEAR,
    Snapshot,
    computed_at,
    holds_nothing_outside,
    kind_counts,
    measures,
    snapshot_trend,
)

EARLIEST_YEAR = FIRST_YEAR
DEFAULT_YEARS, MAX_YEARS = 10, 20
NATION_NAME = gettext_lazy("全国")
RAMPS = {
    # Counts in greens (as the map's devices), rates of harm in reds, inspection on time in blues.
    "count": ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"),
    "harm": ("#feebe2", "#fbb4b9", "#f768a1", "#c51b8a", "#7a0177"),
    "good": ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
}


@dataclass(frozen=True)
class Area:
    """A division the desk shows: the nation (prefix '') or a region."""

    prefix: str
    code: str
    name: str
    level: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "prefix": self.prefix, "name": self.name, "level": self.level}


def refuse(field: str, rule: str, message: str) -> NoReturn:
    raise DomainError([Problem(field, rule, message)])


def area_of_region(region: Region) -> Area:
    return Area(region.code_prefix, region.code, region.name, region.level)


NATION = Area("", "", NATION_NAME, Level.NATIONAL)


def area_of(prefix: str) -> Area:
    """The area of a division-code prefix ('' the nation)."""
    if not prefix:
        return NATION
    code = prefix.ljust(6, "0")
    region = Region.objects.filter(code=code).only("code", "name", "level").first()
    if region is None:
        # A county under a province without a city of its prefix: keep the prefix, name it by it.
        return Area(prefix, code, prefix, {2: Level.PROVINCE, 4: Level.CITY}.get(len(prefix), ""))
    return area_of_region(region)


def parse_area(user: User, code: str | None) -> Area:
    """The user's jurisdiction, or the division `code` inside it; a 400 naming `region` else."""
    own = Scope.of(user).prefix or ""
    if code is None or code == "":
        return area_of(own)
    code = code.strip()
    region = None
    if len(code) == 6 and code.isascii() and code.isdigit():
        region = Region.objects.filter(code=code).only("code", "name", "level").first()
    if region is None:
        refuse("region", "region.unknown", gettext("未知区划代码"))
    # GB/T 2260 codes are public: saying a division lies outside the jurisdiction reveals nothing.
    if not Scope.of(user).contains(region.code_prefix):
        refuse("region", "region.outside", gettext("不在您的辖区内"))
    return area_of_region(region)


def parse_year(raw: str | None, today: dt.date) -> int:
    if raw is None or raw == "":
        return today.year
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) == 4:
        year = int(raw)
        if EARLIEST_YEAR <= year <= today.year:
            return year
    refuse(
        "year",
        "year.range",
        f"年份应为 {EARLIEST_YEAR}–{today.year} / year must be {EARLIEST_YEAR}–{today.year}",
    )


def parse_years(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_YEARS
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= MAX_YEARS:
        return int(raw)
    refuse("years", "years.range", f"趋势年数应为 1–{MAX_YEARS} / years must be 1–{MAX_YEARS}")


def parse_indicator(raw: str | None, default: str = "devices") -> Indicator:
    key = (raw or default).strip()
    if key not in BY_KEY:
        refuse(
            "indicator",
            "indicator.unknown",
            f"未知指标 / unknown indicator; one of {', '.join(BY_KEY)}",
        )
    return BY_KEY[key]


def parse(user: User, params, allowed: tuple[str, ...], today: dt.date) -> dict[str, Any]:
    """The parameters an endpoint takes (`allowed`), each parsed, defaults filled; every problem
    at once in one DomainError."""
    problems = []
    unknown = [name for name in params if name not in allowed]
    problems += [
        Problem(name, "unknown", f"未知参数 / unknown parameter; accepted: {', '.join(allowed)}")
        for name in unknown
    ]
    parsers = {
        "region": lambda raw: parse_area(user, raw),
        "year": lambda raw: parse_year(raw, today),
        "years": parse_years,
        "indicator": parse_indicator,
    }
    parsed: dict[str, Any] = {"today": today}
    for name, parser in parsers.items():
        if name not in allowed:
            continue
        try:
            parsed[name] = parser(params.get(name))
        except DomainError as error:
            problems += error.findings
    if problems:
        raise DomainError(problems)
    return parsed


def parent_of(area: Area) -> Area | None:
    if not area.prefix:
        return None
    if len(area.prefix) == 6:
        city = area.prefix[:4]
        if Region.objects.filter(code=city.ljust(6, "0"), level=Level.CITY).exists():
            return area_of(city)
    return area_of(area.prefix[:2] if len(area.prefix) > 2 else "")


def breadcrumb(user: User, area: Area) -> list[dict[str, str]]:
    """The areas from the user's jurisdiction down to this one, each a link back up."""
    own = Scope.of(user).prefix or ""
    chain, current = [], area
    while current is not None and len(current.prefix) >= len(own):
        chain.append(current.as_dict())
        if current.prefix == own:
            break
        current = parent_of(current)
    return chain[::-1]


# --------------------------------------------------------------------------- values


def value_of(indicator: Indicator, counts: Measures) -> dict[str, Any]:
    numerator = getattr(counts, indicator.numerator)
    denominator = getattr(counts, indicator.denominator) if indicator.denominator else None
    return {
        "value": indicator.value(numerator, denominator),
        "numerator": numerator,
        "denominator": denominator,
    }


def definition(indicator: Indicator) -> dict[str, Any]:
    return {
        "key": indicator.key,
        "name_zh": indicator.name_zh,
        "name_en": indicator.name_en,
        "formula": indicator.formula,
        "unit": indicator.unit,
        "source": indicator.source,
        "meaning": indicator.meaning,
        "additive": indicator.additive,
        "current_only": indicator.current_only,
    }


def trend_point(indicator: Indicator, year: int, counts: Measures) -> dict[str, Any]:
    return {"year": year, **value_of(indicator, counts), "day": None, "derived": False}


def snapshot_point(indicator: Indicator, year: int, found: Snapshot | None) -> dict[str, Any]:
    """A current-only indicator's point of a year: the year's last snapshot day, or nothing."""
    if found is None:
        return {
            "year": year,
            "value": None,
            "numerator": None,
            "denominator": None,
            "day": None,
            "derived": False,
        }
    return {
        "year": year,
        **value_of(indicator, found.measures),
        "day": found.day.isoformat(),
        "derived": found.derived,
    }


def _area_totals(scope: Scope, years: list[int], today: dt.date) -> dict[int, Measures]:
    return total(measures(scope, 0, years, today), years)


def span_of(year: int, years: int) -> list[int]:
    return list(range(max(EARLIEST_YEAR, year - years + 1), year + 1))


def area_figures(area: Area, years: list[int], today: dt.date) -> Figures:
    """The area's child regions' measures in each year: the overview sums them, the regions
    table lists them (the page computes them once for both)."""
    return measures(Scope(area.prefix), child_width(area.prefix), years, today)


def holds_everything(area: Area) -> bool:
    """Whether no county outside the area has figures: then the nation's figures are the area's
    (a province's own instance, the demo), and are not read a second time."""
    return holds_nothing_outside(area.prefix)


def overview(
    user: User,
    area: Area,
    year: int,
    years: int,
    today: dt.date,
    figures: Figures | None = None,
) -> dict[str, Any]:
    """Every indicator of the area in the year, its trend, and the comparisons the user may see."""
    span = span_of(year, years)
    if figures is None:
        figures = area_figures(area, span, today)
    own = total(figures, span)
    parent = parent_of(area)
    shown_parent = parent if parent is not None and Scope.of(user).contains(parent.prefix) else None
    parent_totals = (
        _area_totals(Scope(shown_parent.prefix), [year], today)[year] if shown_parent else None
    )
    national_counts = Scope.of(user).prefix == ""
    # Deliberately outside the user's scope: only the rates are answered (see the module's note).
    national = None
    if area.prefix:
        national = (
            own[year] if holds_everything(area) else _area_totals(NATIONAL, [year], today)[year]
        )
    # Today's state has no yearly measure: its trend is each year's last daily snapshot.
    snapshots = snapshot_trend(Scope(area.prefix), span, today)
    items = []
    for indicator in INDICATORS:
        if indicator.current_only:
            trend = [snapshot_point(indicator, y, snapshots.get(y)) for y in span]
        else:
            trend = [trend_point(indicator, y, own[y]) for y in span]
        national_value = None
        if national is not None and (national_counts or not indicator.additive):
            national_value = value_of(indicator, national)["value"]
        items.append(
            {
                **definition(indicator),
                **value_of(indicator, own[year]),
                "trend": trend,
                "parent": value_of(indicator, parent_totals)["value"] if parent_totals else None,
                "national": national_value,
            }
        )
    return {
        "area": area.as_dict(),
        "breadcrumb": breadcrumb(user, area),
        "year": year,
        "period_end": period_end(year, today).isoformat(),
        "as_of": today.isoformat(),
        "computed_at": computed_at(figures),
        "parent": shown_parent.as_dict() if shown_parent else None,
        "indicators": items,
    }


def child_rows(
    area: Area, year: int, today: dt.date, figures: Figures | None = None
) -> tuple[list[dict[str, Any]], dict]:
    """Every region one level below the area (those with no device too) with every indicator's
    value in the year, and the area's own row (their sum for the additive indicators)."""
    if figures is None:
        figures = area_figures(area, [year], today)
    names = {
        region.code_prefix: region
        for region in Region.objects.below(area.prefix).only("code", "name", "level")
    }
    rows = []
    for prefix in sorted(set(names) | {p for p in figures if p}):
        region = names.get(prefix)
        counts = figures[prefix][year] if prefix in figures else Measures()
        rows.append(
            {
                "code": region.code if region else prefix.ljust(6, "0"),
                "prefix": prefix,
                "name": region.name if region else prefix,
                "level": region.level if region else child_level(area.prefix),
                "values": {i.key: value_of(i, counts)["value"] for i in INDICATORS},
            }
        )
    own = total(figures, [year])[year]
    totals = {
        **area.as_dict(),
        "values": {i.key: value_of(i, own)["value"] for i in INDICATORS},
    }
    return rows, totals


def regions(
    user: User, area: Area, year: int, today: dt.date, figures: Figures | None = None
) -> dict[str, Any]:
    if figures is None:
        figures = area_figures(area, [year], today)
    rows, totals = child_rows(area, year, today, figures)
    return {
        "area": area.as_dict(),
        "year": year,
        "as_of": today.isoformat(),
        "computed_at": computed_at(figures),
        "level": child_level(area.prefix),
        # A county is its own single child: nothing further down to open.
        "drillable": len(area.prefix) < 6,
        "regions": rows,
        "totals": totals,
    }


def devices_by_kind(area: Area) -> dict[str, Any]:
    """Devices in the register today by kind and status (the status column, the register's own)."""
    counted = kind_counts(Scope(area.prefix), timezone.localdate())
    names = {v.code: v for v in Variety.objects.filter(level="kind")}
    statuses = [s.value for s in EquipmentStatus]
    kinds: dict[str, dict[str, int]] = {}
    for (kind, status), n in counted.items():
        kinds.setdefault(kind, dict.fromkeys(statuses, 0))[status] = n
    rows = []
    for kind in sorted(kinds):
        variety = names.get(kind)
        rows.append(
            {
                "kind": kind,
                "name": in_language(variety.name_zh, variety.name_en) if variety else kind,
                **kinds[kind],
                "total": sum(kinds[kind].values()),
            }
        )
    return {
        "area": area.as_dict(),
        "statuses": [{"key": s.value, "label": str(s.label)} for s in EquipmentStatus],
        "kinds": rows,
    }


def _ramp(indicator: Indicator) -> tuple[str, ...]:
    if indicator.key == "inspection_rate":
        return RAMPS["good"]
    if indicator.unit == PERCENT or indicator.key in {"accidents", "deaths", "injuries"}:
        return RAMPS["harm"]
    return RAMPS["harm"] if indicator.denominator else RAMPS["count"]


def region_map(user: User, area: Area, indicator: Indicator, year: int, today: dt.date) -> str:
    """The child regions as GeoJSON with the indicator's value, class colour and legend: the map
    choropleth's outlines and classes (maps.choropleth), the desk's figures."""
    rows, _ = child_rows(area, year, today)
    values = [row["values"][indicator.key] for row in rows]
    spec = {
        "ramp": _ramp(indicator),
        "classes": "quantile",
        "empty": gettext("无数据"),
        "unit": indicator.unit,
    }
    classes = Classes.of(indicator.key, values, spec)
    by_prefix = {row["prefix"]: row for row in rows}
    tolerance = outline_tolerance(Scope.of(user).prefix or "")
    features = []
    for code, name, level, outline, label in region_outlines(area.prefix, tolerance):
        prefix = code if level == Level.COUNTY else code[: child_width(area.prefix)]
        row = by_prefix.get(prefix)
        value = row["values"][indicator.key] if row else None
        properties = {
            "code": code,
            "prefix": prefix,
            "name": name,
            "level": level,
            "value": value,
            "fill": classes.colour(value),
            "label_point": [round(label.x, 5), round(label.y, 5)] if label else None,
        }
        features.append(
            f'{{"type":"Feature","id":"{code}","properties":'
            f'{json.dumps(properties, ensure_ascii=False, cls=DjangoJSONEncoder)},"geometry":{outline}}}'
        )
    head = {
        "area": area.as_dict(),
        "indicator": indicator.key,
        "year": year,
        "legend": classes.legend(values),
        "drillable": len(area.prefix) < 6,
    }
    members = json.dumps(head, ensure_ascii=False, cls=DjangoJSONEncoder)[1:-1]
    return f'{{"type":"FeatureCollection",{members},"features":[' + ",".join(features) + "]}"
