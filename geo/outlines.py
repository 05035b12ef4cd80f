"""Region outlines simplified for display, simplified once: every map of region outlines (the base
map, the map's choropleth, the analysis desk's maps) reads them from `RegionOutline`.

A region is simplified for a tolerance the first time a map asks for that pair, and stored; the
table's trigger (geo migration 0003) deletes a region's outlines when its boundary changes, so the
next request simplifies the new boundary. The tolerances are few: `geo.basemap.outline_tolerance`
of each jurisdiction that views a map (about a pixel of the whole jurisdiction), so a region has
at most one stored outline per level above it and the nation.
"""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import FilteredRelation, Q, QuerySet

from .models import Region

PRECISION = 5  # decimals of the GeoJSON text: about a metre

# One statement computes and stores: the simplification runs once a region (a function in FROM is
# not substituted twice, as a subquery's column would be), and FOR SHARE, taken in the boundary
# loader's order (level, then code) so the two cannot deadlock, makes a boundary update in flight
# either finish first (its new boundary is simplified: read committed re-reads the
# locked row) or wait for this insert (its trigger then deletes the row stored here).
FILL = f"""
INSERT INTO geo_regionoutline (region_id, tolerance, geometry, label)
SELECT r.code, %(tolerance)s, ST_AsGeoJSON(s.outline, {PRECISION}), ST_PointOnSurface(s.outline)
FROM geo_region AS r
CROSS JOIN LATERAL ST_SimplifyPreserveTopology(r.boundary, %(tolerance)s) AS s(outline)
WHERE r.code = ANY(%(codes)s)
ORDER BY CASE r.level WHEN 'province' THEN 0 WHEN 'city' THEN 1 ELSE 2 END, r.code
FOR SHARE OF r
ON CONFLICT (region_id, tolerance) DO NOTHING
"""

Outline = tuple[str, str, str, str, Point | None]


def _stored(regions: QuerySet[Region], tolerance: float) -> list[tuple]:
    return list(
        regions.annotate(
            stored=FilteredRelation("outlines", condition=Q(outlines__tolerance=tolerance))
        )
        .values_list("code", "name", "level", "stored__geometry", "stored__label")
        .order_by("code")
    )


def outlines(regions: QuerySet[Region], tolerance: float) -> list[Outline]:
    """(code, name, level, GeoJSON geometry text, label point) of the regions, by code, simplified
    by `tolerance` (degrees) preserving topology; the label point lies on the simplified shape."""
    rows = _stored(regions, tolerance)
    missing = [code for code, _, _, geometry, _ in rows if geometry is None]
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(FILL, {"tolerance": tolerance, "codes": missing})
        # Read back where they were written: a replica serving this request's reads may not
        # have them yet.
        stored = Region.objects.using(DEFAULT_DB_ALIAS).filter(code__in=[row[0] for row in rows])
        rows = _stored(stored, tolerance)
    return rows
