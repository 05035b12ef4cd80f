"""A map layer as a table: the same scoped rows, the same filters, sorted and paged.

The rows are the layer's own (`layers.sources.SOURCES[layer].rows`, filtered by
`layers.filters.parse_query`, in the map's view when a bbox is given) and the columns are the
export's (`layers.fields.COLUMNS`, decoded the same way), so the table, the map and a file exported
from either hold the same devices. Work is bounded: one page of rows, and a count that stops at
`COUNT_CAP` (a national list of millions says "10,000+" and asks for a filter or an export).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Polygon
from django.db.models import F, FloatField, Func, Q
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone, translation

from geo.scoping import Scope
from layers.fields import COLUMNS, Column, Lookups
from layers.filters import FilterError, parse_query
from layers.sources import SOURCES

PAGE_SIZE = 50
COUNT_CAP = 10_000
OWN_PARAMS = ("sort", "page")

# The columns a table shows (by their English export names); the export carries them all.
SHOWN: dict[str, tuple[str, ...]] = {
    "equipment": ("device code", "variety", "status", "use unit", "address", "division", "next inspection due"),
    "overdue": ("device code", "variety", "use unit", "address", "division", "next inspection due", "days overdue"),
    "units": ("name", "credit code", "roles", "address", "division"),
    "accidents": ("occurred at", "severity", "deaths", "injuries", "address", "device code", "division"),
    "resources": ("name", "type", "capability", "duty hours", "address", "division"),
    "licences": ("licence number", "unit", "licence kind", "expires", "validity", "division"),
    "unlicensed": ("device code", "variety", "status", "use unit", "address", "division"),
    "stations": ("name", "licence number", "licence valid until", "cylinders owned", "overdue cylinders", "fillings in 30 days", "violations", "division"),
    "unlicensed_filling": ("name", "licence number", "licence valid until", "fillings in 30 days", "violations", "division"),
}  # fmt: skip

# Most urgent first: a failed inspection (no due date) then the longest overdue; newest accident.
DEFAULT_SORT = {
    "equipment": "device code",
    "overdue": "next inspection due",
    "units": "name",
    "accidents": "-occurred at",
    "resources": "name",
    "stations": "-violations",
    "licences": "expires",
    "unlicensed": "device code",
    "unlicensed_filling": "name",
}
DETAIL_PAGES = {
    "equipment": "equipment-page",
    "overdue": "equipment-page",
    "units": "unit-page",
    "accidents": "accident-page",
    "resources": "resource-page",
    "stations": "cylinders:station",
    "licences": "licensing:licence",
    "unlicensed": "equipment-page",
    "unlicensed_filling": "cylinders:station",
}


@dataclass(frozen=True)
class Page:
    layer: str
    columns: list[Column]
    rows: list[dict[str, Any]]  # id, cells (decoded values in column order), lon, lat
    number: int
    pages: int
    count: int
    capped: bool  # more than COUNT_CAP rows: count is the cap
    sort: str  # the column's English name, "-" before it when descending


def columns_of(layer: str) -> list[Column]:
    by_name = {c.name_en: c for c in COLUMNS[layer]}
    return [by_name[name] for name in SHOWN[layer]]


def layer_filters(params: QueryDict) -> QueryDict:
    """The map's filters among the parameters: all but the table's own (sort, page)."""
    filters = params.copy()
    for name in OWN_PARAMS:
        filters.pop(name, None)
    return filters


def read(layer: str, user, params: QueryDict) -> Page:
    """The page the parameters ask for; a FilterError naming every bad parameter at once."""
    if layer not in SHOWN:
        raise FilterError({"layer": f"未知图层 / unknown layer; one of {', '.join(SHOWN)}"})
    own = {name: params.get(name, "") for name in OWN_PARAMS}
    filters = layer_filters(params)
    errors: dict[str, str] = {}
    try:
        query = parse_query(layer, filters, allow_bbox=True)
    except FilterError as error:
        errors.update(error.errors)
    columns = columns_of(layer)
    sort = own["sort"] or DEFAULT_SORT[layer]
    sortable = {c.name_en: c for c in columns}
    if sort.lstrip("-") not in sortable:
        errors["sort"] = (
            f"可排序的列 / sortable columns: {', '.join(sortable)} (前加 - 为降序 / - for descending)"
        )
    number = _page_number(own["page"], errors)
    if errors:
        raise FilterError(errors)

    today = timezone.localdate()
    rows = query.apply(SOURCES[layer].rows(user, today))
    if query.bbox is not None:
        rows = rows.filter(_in_box(layer, query.bbox))
    count = rows.order_by()[: COUNT_CAP + 1].count()
    capped = count > COUNT_CAP
    count = min(count, COUNT_CAP)
    pages = max(1, -(-count // PAGE_SIZE))
    if number > pages:
        raise FilterError({"page": f"共{pages}页 / there are {pages} pages"})
    column = sortable[sort.lstrip("-")]
    descending = sort.startswith("-")
    order = (
        F(column.source).desc(nulls_last=True)
        if descending
        else F(column.source).asc(nulls_first=True)
    )
    start = (number - 1) * PAGE_SIZE
    page_rows = list(
        rows.order_by(order, "id").values(
            "id", *dict.fromkeys(c.source for c in columns), **_point(layer)
        )[start : start + PAGE_SIZE]
    )
    # The values in the reader's language (an export keeps the data's Chinese).
    language = translation.get_language() or "zh-hans"
    lookups = Lookups.for_prefix(Scope.of(user).prefix or "", today, language)
    decoded = {c.name_en: c.values([row[c.source] for row in page_rows], lookups) for c in columns}
    for column in columns:
        if column.words is not None:
            words = column.words()
            decoded[column.name_en] = [words.get(v, v) for v in decoded[column.name_en]]
    return Page(
        layer=layer,
        columns=columns,
        rows=[
            {
                "id": row["id"],
                "cells": [_shown(decoded[c.name_en][i]) for c in columns],
                "lon": row.get("lon"),
                "lat": row.get("lat"),
            }
            for i, row in enumerate(page_rows)
        ],
        number=number,
        pages=pages,
        count=count,
        capped=capped,
        sort=sort,
    )


def _shown(value: Any) -> Any:
    # Dates as the rest of SEGIS writes them (ISO), not in the locale's long form.
    return value.isoformat() if isinstance(value, dt.date) else value


def _page_number(raw: str, errors: dict[str, str]) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= COUNT_CAP // PAGE_SIZE:
        errors["page"] = (
            f"页码应为1–{COUNT_CAP // PAGE_SIZE} / page is a whole number from 1 to {COUNT_CAP // PAGE_SIZE}"
        )
        return 1
    return int(raw)


def _in_box(layer: str, bbox) -> Q:
    box = Polygon.from_bbox((bbox.west, bbox.south, bbox.east, bbox.north))
    box.srid = 4326
    condition = Q()
    for column in SOURCES[layer].geometry_columns:
        condition |= Q(**{f"{column}__bboverlaps": box})
    return condition


class _X(Func):
    function, output_field = "ST_X", FloatField()


class _Y(Func):
    function, output_field = "ST_Y", FloatField()


def _point(layer: str) -> Mapping[str, Any]:
    """Where "on the map" flies to: the point, or a point on a pipeline."""
    columns = SOURCES[layer].geometry_columns
    point = F(columns[0])
    if len(columns) > 1:
        point = Coalesce(point, PointOnSurface(columns[1]), output_field=GeometryField())
    return {"lon": _X(point), "lat": _Y(point)}
