"""The map's region choropleth: the sub-regions of the jurisdiction, or of the region filter, with
their devices, overdue rate and accidents per 10,000 devices under the map's filters, as GeoJSON.

The rows are the tile layers' own (`layers.sources.SOURCES`, narrowed by the same `LayerQuery`), kept
to those the map can draw (a geometry in Web Mercator's world, what the count endpoint finds), and
counted by `maps.summary.region_figures`, the dashboard's statistics: the regions' devices add up
to the equipment count endpoint's answer for the same filters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.geos import Polygon
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from cylinders.reads import cylinder_figures
from geo.basemap import outline_tolerance
from geo.divisions import child_level, child_width, code_prefix
from geo.models import Level, Region
from geo.outlines import outlines
from geo.scoping import Scope
from layers.catalogue import CHOROPLETH_METRICS, CHOROPLETH_NO_FIGURE, CHOROPLETH_ZERO
from layers.filters import (
    LAYER_FILTERS,
    MERCATOR_MAX_LATITUDE,
    DateRangeFilter,
    FilterError,
    LayerQuery,
    RegionFilter,
    accepted_params,
    parse_query,
)
from layers.sources import SOURCES
from maps.summary import Row, region_figures, roll_up

PER_DEVICES = 10_000
MAX_CLASSES = 5
# The accident layer's time filters under the names the map page gives them (`from` and `to` are
# the equipment's commissioning dates); kind and region are shared with the equipment filters.
ACCIDENT_PARAMS = {"window": "window", "accident_from": "from", "accident_to": "to"}
SHARED_PARAMS = ("kind", "region")
WINDOW_LABELS = {
    "24h": gettext_lazy("近24小时"),
    "30d": gettext_lazy("近30天"),
    "1y": gettext_lazy("近一年"),
}
WORLD = Polygon.from_bbox((-180, -MERCATOR_MAX_LATITUDE, 180, MERCATOR_MAX_LATITUDE))
WORLD.srid = 4326


@dataclass(frozen=True)
class ChoroplethQuery:
    """The map's filters as the equipment and accident layers read them."""

    equipment: LayerQuery
    accidents: LayerQuery


def accepted() -> list[str]:
    return accepted_params("equipment") + list(ACCIDENT_PARAMS)


def parse_choropleth_query(query: QueryDict) -> ChoroplethQuery:
    """Both layers' filters from one query string; every problem at once in a FilterError."""
    names = accepted()
    errors: dict[str, str] = {}
    equipment, accidents = QueryDict(mutable=True), QueryDict(mutable=True)
    for param, values in query.lists():
        if param in ACCIDENT_PARAMS:
            accidents.setlist(ACCIDENT_PARAMS[param], values)
        elif param in names:
            equipment.setlist(param, values)
            if param in SHARED_PARAMS:
                accidents.setlist(param, values)
        else:
            errors[param] = f"未知参数 / unknown parameter; accepted: {', '.join(names)}"
    parsed = []
    for layer, part, rename in (
        ("equipment", equipment, {}),
        ("accidents", accidents, {v: k for k, v in ACCIDENT_PARAMS.items()}),
    ):
        try:
            parsed.append(parse_query(layer, part))
        except FilterError as error:
            errors.update({rename.get(k, k): message for k, message in error.errors.items()})
    if errors:
        raise FilterError(errors)
    return ChoroplethQuery(*parsed)


def _value(query: LayerQuery, kind: type) -> Any:
    filters = LAYER_FILTERS[query.layer]
    return next((value for i, value in query.values if isinstance(filters[i], kind)), None)


def on_map(layer: str, queryset: QuerySet) -> QuerySet:
    """Rows with a geometry in Web Mercator's world: what the layer's tiles and count find."""
    condition = Q()
    for column in SOURCES[layer].geometry_columns:
        condition |= Q(**{f"{column}__bboverlaps": WORLD})
    return queryset.filter(condition)


def window_label(accidents: LayerQuery) -> str:
    value = _value(accidents, DateRangeFilter)
    if value is None:
        return gettext("全部时间")
    if value[0] == "window":
        return str(WINDOW_LABELS[value[1]])
    _, start, end = value
    return f"{start or '…'} – {end or '…'}"


# --------------------------------------------------------------------------- classes


def _floor_significant(value: float, digits: int) -> float:
    exponent = math.floor(math.log10(value)) - digits + 1
    return round(math.floor(value / 10**exponent + 1e-9) * 10**exponent, 12)


def quantile_breaks(values: Iterable[float], classes: int = MAX_CLASSES) -> list[float]:
    """Lower limits of classes 2… that split the positive values into up to `classes` groups of
    about equal size, each rounded down to as few significant digits as still separates the
    values on either side of it."""
    positive = sorted(v for v in values if v > 0)
    count = min(classes, len(set(positive)))
    breaks: list[float] = []
    for i in range(1, count):
        at = i * len(positive) // count
        below, value = positive[at - 1], positive[at]
        if value <= below or (breaks and value <= breaks[-1]):
            continue
        for digits in (1, 2, 3, 4):
            limit = _floor_significant(value, digits)
            if below < limit <= value and (not breaks or limit > breaks[-1]):
                break
        else:
            limit = value
        breaks.append(limit)
    return breaks


def equal_breaks(values: Iterable[float], classes: int = MAX_CLASSES) -> list[float]:
    """Multiples of the smallest round step (1, 2, 2.5 or 5 × 10ⁿ) that covers the largest value
    in fewer than `classes` steps: at most `classes` classes from zero."""
    top = max((v for v in values if v > 0), default=0)
    if not top:
        return []
    least = top / classes
    exponent = math.floor(math.log10(least))
    step = next(m * 10.0**exponent for m in (1, 2, 2.5, 5, 10) if m * 10.0**exponent > least)
    return [round(step * i, 12) for i in range(1, math.floor(top / step + 1e-9) + 1)]


def _ramp(colours: tuple[str, ...], classes: int, method: str | tuple) -> list[str]:
    """A colour per class: fixed limits take the ramp as it is; equal steps its darkest end (the
    top class is always the darkest); quantiles spread over the whole ramp (one class: a
    middle-dark one)."""
    if not isinstance(method, str):
        return list(colours[:classes])
    if method == "equal":
        return list(colours[len(colours) - classes :])
    if classes == 1:
        return [colours[-2]]
    last = len(colours) - 1
    return [colours[round(i * last / (classes - 1))] for i in range(classes)]


def _format(metric: str, value: float, unit: str = "") -> str:
    if metric == "devices" or unit == "count":
        return f"{value:,.0f}"
    if unit == "%":  # the analysis desk's rates, percentages already (its overdue_rate too)
        return f"{value:.4g} %"
    if metric in ("overdue_rate", "cylinder_overdue_rate"):  # the map's, fractions
        return f"{value * 100:.4g} %"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.4g}"


@dataclass(frozen=True)
class Classes:
    """A metric's classes: its legend and the colour of any value under it. The map's metrics are
    in CHOROPLETH_METRICS; another surface (the analysis desk) passes its own `spec` of the same
    shape (ramp, classes, empty, and a unit for the legend's numbers)."""

    metric: str
    breaks: list[float]
    colours: list[str]
    low: float | None
    high: float | None
    spec: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, metric: str, values: list[float | None], spec: dict[str, Any] | None = None
    ) -> Classes:
        given = spec
        spec = spec or CHOROPLETH_METRICS[metric]
        positive = [v for v in values if v is not None and v > 0]
        method = spec["classes"]
        if not isinstance(method, str):
            breaks = list(method)
        elif not positive:
            breaks = []
        elif method == "equal":
            breaks = equal_breaks(positive)
        else:
            breaks = quantile_breaks(positive)
        colours = _ramp(spec["ramp"], len(breaks) + 1, method) if positive or breaks else []
        return cls(
            metric,
            breaks,
            colours,
            min(positive, default=None),
            max(positive, default=None),
            given,
        )

    def colour(self, value: float | None) -> str:
        if value is None:
            return CHOROPLETH_NO_FIGURE
        if value <= 0:
            return CHOROPLETH_ZERO
        return self.colours[sum(1 for limit in self.breaks if value >= limit)]

    def legend(self, values: list[float | None]) -> list[dict[str, str]]:
        spec = self.spec or CHOROPLETH_METRICS[self.metric]
        fmt = lambda v: _format(self.metric, v, spec.get("unit", ""))  # noqa: E731
        items = []
        if len(self.colours) == 1:
            label = (
                fmt(self.low) if self.low == self.high else f"{fmt(self.low)} – {fmt(self.high)}"
            )
            items.append({"colour": self.colours[0], "label": label})
        elif self.colours:
            limits = [None, *self.breaks, None]
            for colour, low, high in zip(self.colours, limits, limits[1:], strict=False):
                if low is None:
                    label = f"< {fmt(high)}"
                elif high is None:
                    label = f"≥ {fmt(low)}"
                else:
                    label = f"{fmt(low)} – {fmt(high)}"
                items.append({"colour": colour, "label": label})
        if any(v is not None and v <= 0 for v in values):
            items.append({"colour": CHOROPLETH_ZERO, "label": "0"})
        if any(v is None for v in values):
            empty = spec["empty"]
            items.append({"colour": CHOROPLETH_NO_FIGURE, "label": empty})
        return items


# --------------------------------------------------------------------------- figures


def figures_of(row: Row) -> dict[str, Any]:
    devices = row.devices
    return {
        "devices": devices,
        "in_use": row.in_use,
        "overdue": row.overdue,
        "overdue_rate": round(row.overdue / row.in_use, 6) if row.in_use else None,
        "accidents": row.accidents,
        "accident_rate": round(row.accidents * PER_DEVICES / devices, 4) if devices else None,
        "cylinders": row.cylinders,
        "overdue_cylinders": row.overdue_cylinders,
        "cylinder_overdue_rate": (
            round(row.overdue_cylinders / row.cylinders, 6) if row.cylinders else None
        ),
    }


def region_outlines(area: str, tolerance: float, orphans: Iterable[str] = ()) -> list[tuple]:
    """(code, name, level, GeoJSON geometry, label point) of the regions one level below the area,
    simplified by `tolerance` (`geo.basemap.outline_tolerance`, stored by `geo.outlines`); the `orphans`, county codes with
    no region of that level above them, are added as themselves."""
    rows = outlines(Region.objects.below(area), tolerance)
    if orphans and child_width(area) < 6:
        counties = Region.objects.within_prefix(area).filter(
            code__in=list(orphans), level=Level.COUNTY
        )
        rows += outlines(counties, tolerance)
    return rows


def county_outlines(area: str, tolerance: float, only: Iterable[str] | None = None) -> list[tuple]:
    """(code, name, level, GeoJSON geometry, label point) of every county under the area, or of
    those `only` (the analysis desk's hot spots are found among counties, whatever the level)."""
    counties = Region.objects.within_prefix(area).counties()
    if only is not None:
        counties = counties.filter(code__in=list(only))
    return outlines(counties, tolerance)


def _features(area: str, width: int, figures: dict[str, Row], tolerance: float) -> list[tuple]:
    """(code, name, level, GeoJSON geometry, label point, figures) of the regions one level below
    the area. Counties under a prefix with no region of that level (a province's directly
    administered counties have no city) stand for themselves."""
    rows = region_outlines(area, tolerance)
    rolled = roll_up(figures.values(), width)
    found = [(*row, rolled.get(row[0][:width]) or Row(row[0], row[1])) for row in rows]
    covered = {code[:width] for code, *_ in rows}
    orphans = [code for code in figures if code[:width] not in covered]
    if orphans and width < 6:
        counties = outlines(
            Region.objects.within_prefix(area).filter(code__in=orphans, level=Level.COUNTY),
            tolerance,
        )
        found += [(*row, figures[row[0]]) for row in counties]
    return found


def region_collection(user: User, query: ChoroplethQuery, today: dt.date) -> str:
    """The FeatureCollection as JSON text, with the metrics' legends, the accident window, the
    totals and what no drawn region holds (rows in a region without a loaded boundary)."""
    user_prefix = user.jurisdiction_prefix or ""
    scope = Scope(user_prefix).narrowed(_value(query.equipment, RegionFilter))
    area = None if scope is None else scope.prefix
    found: list[tuple] = []
    totals = Row(area or "", "")
    if area is not None:
        equipment = on_map(
            "equipment", query.equipment.apply(SOURCES["equipment"].rows(user, today))
        )
        accidents = on_map(
            "accidents", query.accidents.apply(SOURCES["accidents"].rows(user, today))
        )
        figures = region_figures(equipment, accidents, today=today)
        for code, (count, overdue) in cylinder_figures(scope, today).items():
            row = figures.setdefault(code, Row(code, code))
            row.cylinders, row.overdue_cylinders = count, overdue
        for row in figures.values():
            totals.add(row)
        found = _features(area, child_width(area), figures, outline_tolerance(user_prefix))
    placed = Row("", "")
    for *_, row in found:
        placed.add(row)
    per_feature = [figures_of(row) for *_, row in found]
    metrics, colours = [], {}
    for metric, spec in CHOROPLETH_METRICS.items():
        values = [f[metric] for f in per_feature]
        classes = Classes.of(metric, values)
        colours[metric] = [classes.colour(v) for v in values]
        metrics.append(
            {
                "name": metric,
                "title": spec["title"],
                "note": spec["note"],
                "legend": classes.legend(values),
            }
        )
    features = []
    for index, ((code, name, level, geometry, label, _), numbers) in enumerate(
        zip(found, per_feature, strict=True)
    ):
        properties = {
            "code": code,
            "name": name,
            "level": level,
            "prefix": code_prefix(code, level),
            "label_point": [round(label.x, 5), round(label.y, 5)] if label else None,
            **numbers,
            **{f"fill_{metric}": colours[metric][index] for metric in CHOROPLETH_METRICS},
        }
        features.append(
            f'{{"type":"Feature","id":"{code}","properties":'
            f"{json.dumps(properties, ensure_ascii=False)},"
            f'"geometry":{geometry}}}'
        )
    head = {
        "area": area,
        "level": child_level(area) if area is not None else None,
        "accident_window": window_label(query.accidents),
        "metrics": metrics,
        "totals": figures_of(totals),
        "unplaced": {
            "devices": totals.devices - placed.devices,
            "accidents": totals.accidents - placed.accidents,
        },
    }
    # The metrics' titles and notes are lazy translations: Django's encoder renders them.
    members = json.dumps(head, ensure_ascii=False, cls=DjangoJSONEncoder)[1:-1]
    return f'{{"type":"FeatureCollection",{members},"features":[' + ",".join(features) + "]}"
