"""What the export page (or a query string) submits, read into the strings `parse_request` takes.

The map has one filter panel for all its layers and sends each layer the filters it understands;
an export reads the filters of the chosen layer and leaves the others' fields alone, as the map
does. A parameter that is no filter of any layer and no field of the export is an error, so a typo
never silently widens an export. The map's region filter and the export's region are one field
(both narrow the jurisdiction to a division-code prefix): it is read as the export's area.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import shapely
import shapely.geometry
from django.http import QueryDict

from exports.options import (
    LAYER_TITLES,
    MAX_POLYGON_BYTES,
    ExportError,
    ExportRequest,
    parse_request,
)
from layers.filters import LAYER_FILTERS, accepted_params
from maps.choropleth import accepted as choropleth_params

AREA_FIELDS = ("region", "bbox", "polygon")
OUTPUT_FIELDS = ("layer", "format", "crs")
# Controls of the page's form that are no parameter of the export itself.
FORM_CONTROLS = ("csrfmiddlewaretoken", "background", "action")
DEFAULT_FORMAT = "gpkg"
DEFAULT_CRS = "wgs84"


def filter_params(layer: str) -> list[str]:
    """The map filters an export of the layer reads: the layer's own, or for the region
    statistics those of the region choropleth; none for an unknown layer."""
    if layer in LAYER_FILTERS:
        return accepted_params(layer)
    if layer in LAYER_TITLES:
        return choropleth_params()
    return []


def all_filter_params() -> list[str]:
    return list(dict.fromkeys(p for layer in LAYER_TITLES for p in filter_params(layer)))


def _value(data: QueryDict, name: str) -> str:
    # Checkboxes send a list (kind=3000&kind=4000); the filters read a comma list, as the map sends.
    return ",".join(v.strip() for v in data.getlist(name) if v.strip())


def submitted_parameters(data: QueryDict) -> dict[str, Any]:
    """The export's parameters as strings, as submitted: what a job stores and parses again when
    it runs. Unknown parameters are an ExportError naming each."""
    known = {*OUTPUT_FIELDS, *AREA_FIELDS, *FORM_CONTROLS, *all_filter_params()}
    unknown = [name for name in data if name not in known]
    if unknown:
        raise ExportError(
            {
                name: "未知参数 / unknown parameter; accepted: "
                + ", ".join([*OUTPUT_FIELDS, *AREA_FIELDS, *all_filter_params()])
                for name in unknown
            }
        )
    layer = data.get("layer", "").strip()
    filters = {}
    for name in filter_params(layer):
        if name not in AREA_FIELDS and (value := _value(data, name)):
            filters[name] = value
    return {
        "layer": layer,
        "format": data.get("format", "").strip() or DEFAULT_FORMAT,
        "crs": data.get("crs", "").strip() or DEFAULT_CRS,
        **{name: data.get(name, "").strip() or None for name in AREA_FIELDS},
        "filters": filters,
    }


def polygon_geojson(text: str) -> str:
    """GeoJSON as it is; WKT (what GIS users copy from QGIS) as the same geometry in GeoJSON.
    parse_polygon then checks either the same way."""
    if text.lstrip().startswith("{") or len(text) > MAX_POLYGON_BYTES:
        return text
    try:
        shape = shapely.from_wkt(text)
    except shapely.errors.ShapelyError:
        raise ExportError(
            {"polygon": "应为 GeoJSON 或 WKT 多边形 / expected a GeoJSON or WKT polygon"}
        ) from None
    return json.dumps(shapely.geometry.mapping(shape))


def parse_parameters(user, parameters: Mapping[str, Any]) -> ExportRequest:
    """The stored parameters checked for this user now: every problem at once, by field."""
    errors: dict[str, str] = {}
    if not parameters.get("layer"):
        errors["layer"] = "请选择图层 / choose a layer"
    polygon = parameters.get("polygon")
    if polygon:
        try:
            polygon = polygon_geojson(polygon)
        except ExportError as error:
            errors.update(error.errors)
            polygon = None
    filters = QueryDict(mutable=True)
    for name, value in parameters.get("filters", {}).items():
        filters[name] = value
    try:
        request = parse_request(
            user,
            layer=parameters.get("layer") or "",
            format=parameters.get("format") or DEFAULT_FORMAT,
            crs=parameters.get("crs") or DEFAULT_CRS,
            filters=filters,
            region=parameters.get("region"),
            bbox=parameters.get("bbox"),
            polygon=polygon,
        )
    except ExportError as error:
        raise ExportError({**error.errors, **errors}) from None
    if errors:
        raise ExportError(errors)
    return request
