"""The region statistics layer: the map's region choropleth as a table, one row per region.

Rows and figures are the choropleth's own: `maps.choropleth.region_collection`, the body of
/map/regions.geojson, for the same user under the same filters (the sub-regions one level below
the jurisdiction or the region filter, a county user's own county alone), so every value equals
what the map shows. Only the outline differs: the map draws a simplified one, the file carries the
stored boundary. The area's region narrows the choropleth as the map's region filter does; a box
or polygon keeps the regions whose boundary meets it, with the figures of the whole region.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.contrib.gis.db.models.functions import AsWKB
from django.http import QueryDict

from exports.options import REGIONS, Area, region_filter
from geo.models import Region
from geo.scoping import Scope
from layers.fields import COLUMNS, Chunk, Lookups
from layers.filters import LAYER_FILTERS, LayerQuery, RegionFilter
from maps.choropleth import ChoroplethQuery, parse_choropleth_query, region_collection


@dataclass(frozen=True)
class RegionTable:
    """The regions of an export with their figures (choropleth properties) and boundaries."""

    properties: list[dict]
    boundaries: list[bytes]  # WKB, WGS84
    notes: list[tuple[str, str]]  # for the export summary

    def __len__(self) -> int:
        return len(self.properties)

    def read(self, lookups: Lookups, chunk_rows: int) -> Iterator[Chunk]:
        columns = COLUMNS[REGIONS]
        for start in range(0, len(self), chunk_rows):
            rows = self.properties[start : start + chunk_rows]
            wkb = np.empty(len(rows), dtype=object)
            wkb[:] = self.boundaries[start : start + chunk_rows]
            values = [c.values([row[c.source] for row in rows], lookups) for c in columns]
            yield Chunk(values, wkb)


def _with_region(query: LayerQuery, region: str) -> LayerQuery:
    filters = LAYER_FILTERS[query.layer]
    index = next(i for i, f in enumerate(filters) if isinstance(f, RegionFilter))
    values = [(i, v) for i, v in query.values if i != index] + [(index, region)]
    return LayerQuery(query.layer, tuple(sorted(values, key=lambda item: item[0])), query.bbox)


def narrowed(query: ChoroplethQuery | None, region: str | None) -> ChoroplethQuery | None:
    """The map's filters with the area's region as their region filter (the narrower of the two);
    None when the two do not overlap: no region is in both."""
    query = query or parse_choropleth_query(QueryDict())
    if region is None:
        return query
    current = region_filter(query)
    if current is not None:
        scope = Scope(current).narrowed(region)
        if scope is None:
            return None
        region = scope.prefix
    return ChoroplethQuery(
        _with_region(query.equipment, region), _with_region(query.accidents, region)
    )


def region_table(user, query: ChoroplethQuery | None, area: Area, today: dt.date) -> RegionTable:
    """The choropleth's regions for the user, filters and area, in its order, with boundaries."""
    query = narrowed(query, area.region)
    if query is None:
        return RegionTable([], [], [])
    # The map's own body, read back: the choropleth is the one place that picks the regions (and
    # the counties standing for themselves under a province) and rounds their rates.
    collection = json.loads(region_collection(user, query, today))
    regions = Region.objects.filter(code__in=[f["id"] for f in collection["features"]])
    for shape in (area.box_polygon, area.polygon):
        if shape is not None:
            regions = regions.filter(boundary__intersects=shape)
    boundaries = dict(regions.values_list("code", AsWKB("boundary")))
    found = [f["properties"] for f in collection["features"] if f["id"] in boundaries]
    unplaced = collection["unplaced"]
    notes = [
        ("事故时间范围 / accident window", collection["accident_window"]),
        (
            "未落入区划 / outside every region",
            f"设备 {unplaced['devices']} 台，事故 {unplaced['accidents']} 起（所在区划无边界）/ "
            f"{unplaced['devices']} devices, {unplaced['accidents']} accidents in regions "
            "without a loaded boundary",
        ),
    ]
    return RegionTable(found, [bytes(boundaries[p["code"]]) for p in found], notes)
