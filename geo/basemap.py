"""The offline base map: our own region outlines, simplified for display, and the framing of a jurisdiction."""

from __future__ import annotations

import json
import math

from django.contrib.gis.db.models import Extent

from .mercator import EARTH_RADIUS_M, mercator_latitude, mercator_y
from .models import Level, Region
from .outlines import outlines
from .widgets import zoom_to_fit

# Base map: while a jurisdiction holds more regions than this, drop the finest level (a national
# user gets provinces and cities, not 2,800 counties).
BASEMAP_MAX_REGIONS = 600
# Outlines are simplified to about one pixel when the whole jurisdiction spans this many pixels,
# within these bounds (degrees): ~250 KB for Ningxia with its cities and counties.
BASEMAP_PIXELS_ACROSS = 4000
BASEMAP_TOLERANCE_DEG = (0.0002, 0.01)
BASEMAP_MAX_AGE_S = 3600
LEVEL_ORDER = (Level.PROVINCE, Level.CITY, Level.COUNTY)


def jurisdiction_extent(prefix: str) -> tuple[float, float, float, float] | None:
    """Bounding box (lon/lat) of the regions under a prefix; PostGIS reads only their box headers."""
    return Region.objects.within_prefix(prefix).aggregate(extent=Extent("boundary"))["extent"]


def map_framing(prefix: str | None) -> dict[str, float]:
    """Centre and zoom that show the whole jurisdiction in an admin map (empty for none)."""
    extent = jurisdiction_extent(prefix) if prefix is not None else None
    if extent is None:
        return {}
    xmin, ymin, xmax, ymax = extent
    y_low, y_high = mercator_y(ymin), mercator_y(ymax)
    centre_lat = mercator_latitude((y_low + y_high) / 2)
    width_m = EARTH_RADIUS_M * math.radians(xmax - xmin)
    return {
        "default_lon": round((xmin + xmax) / 2, 6),
        "default_lat": round(centre_lat, 6),
        "default_zoom": zoom_to_fit(width_m, y_high - y_low),
    }


def outline_tolerance(prefix: str) -> float:
    """Simplification tolerance (degrees) of the jurisdiction's outlines: about a pixel when the
    whole jurisdiction spans BASEMAP_PIXELS_ACROSS pixels. Every map layer of region outlines uses
    it, so their edges coincide."""
    extent = jurisdiction_extent(prefix)
    side = max(extent[2] - extent[0], extent[3] - extent[1]) if extent else 0
    low, high = BASEMAP_TOLERANCE_DEG
    # Down to a step of a doubling ladder (low·2ⁿ): the stored outlines (geo.outlines) are kept per
    # tolerance, and a jurisdiction's extent moving a little must not orphan them.
    steps = math.floor(math.log2(max(side / BASEMAP_PIXELS_ACROSS, low) / low))
    return min(low * 2**steps, high)


def basemap_geojson(prefix: str | None) -> str:
    """A FeatureCollection of simplified region outlines under a prefix, with a label point each."""
    if prefix is None:
        return '{"type":"FeatureCollection","features":[]}'
    regions = Region.objects.within_prefix(prefix)
    levels = list(LEVEL_ORDER)
    while len(levels) > 1 and regions.filter(level__in=levels).count() > BASEMAP_MAX_REGIONS:
        levels.pop()
    rows = outlines(regions.filter(level__in=levels), outline_tolerance(prefix))
    top = min((LEVEL_ORDER.index(level) for _, _, level, _, _ in rows), default=0)
    features = []
    for code, name, level, geometry, label in rows:
        properties = {
            "code": code,
            "name": name,
            "level": level,
            "outer": LEVEL_ORDER.index(level) == top,
            "label_point": [round(label.x, 5), round(label.y, 5)] if label else None,
        }
        features.append(
            f'{{"type":"Feature","id":"{code}","properties":'
            f"{json.dumps(properties, ensure_ascii=False)},"
            f'"geometry":{geometry}}}'
        )
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
