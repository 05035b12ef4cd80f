"""A small street base map archive for the tests: PMTiles (the `pmtiles` writer from PyPI) of
Mapbox vector tiles made by PostGIS's ST_AsMVT from the test database, in the Protomaps layer
schema the vendored style draws (earth, roads, buildings, places).

- earth: the region boundaries, so land is drawn where the regions are;
- roads: a grid of `major_road` lines every ROAD_SPACING_M across the box, named 测试路N;
- buildings: a square of BUILDING_HALF_SIDE_M around every located device in the box;
- places: each county's point on surface, a `locality` named after it.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

from django.db import connection
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

ROAD_SPACING_M = 400
BUILDING_HALF_SIDE_M = 12
LAYERS = ("earth", "roads", "buildings", "places")

# One tile: each layer's features clipped to the tile by ST_AsMVTGeom, in 3857 as it wants.
TILE_SQL = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS box),
box3857 AS (SELECT ST_Transform(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326), 3857) AS g),
earth AS (
    SELECT 'earth' AS kind, ST_AsMVTGeom(ST_Transform(r.boundary, 3857), bounds.box) AS geom
    FROM geo_region r, bounds
    WHERE r.level = 'province' AND ST_Intersects(r.boundary, ST_Transform(bounds.box, 4326))
),
roads AS (
    SELECT 'major_road' AS kind, '测试路' || n AS name, 5 AS min_zoom,
           ST_AsMVTGeom(ST_SetSRID(line, 3857), bounds.box) AS geom
    FROM bounds, box3857, LATERAL (
        SELECT n, ST_MakeLine(
            ST_MakePoint(ST_XMin(box3857.g) + n * %(spacing)s, ST_YMin(box3857.g)),
            ST_MakePoint(ST_XMin(box3857.g) + n * %(spacing)s, ST_YMax(box3857.g))) AS line
        FROM generate_series(0, floor((ST_XMax(box3857.g) - ST_XMin(box3857.g)) / %(spacing)s)::int) n
        UNION ALL
        SELECT 1000 + n, ST_MakeLine(
            ST_MakePoint(ST_XMin(box3857.g), ST_YMin(box3857.g) + n * %(spacing)s),
            ST_MakePoint(ST_XMax(box3857.g), ST_YMin(box3857.g) + n * %(spacing)s))
        FROM generate_series(0, floor((ST_YMax(box3857.g) - ST_YMin(box3857.g)) / %(spacing)s)::int) n
    ) lines
    WHERE ST_Intersects(ST_SetSRID(line, 3857), bounds.box)
),
buildings AS (
    SELECT 'building' AS kind,
           ST_AsMVTGeom(ST_Expand(ST_Transform(e.location, 3857), %(half_side)s), bounds.box) AS geom
    FROM registry_equipment e, bounds, box3857
    WHERE e.location && ST_Transform(bounds.box, 4326)  -- the GiST index first
      AND ST_Intersects(ST_Transform(e.location, 3857), box3857.g)
),
places AS (
    SELECT 'locality' AS kind, r.name, 4 AS min_zoom,
           ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(r.boundary), 3857), bounds.box) AS geom
    FROM geo_region r, bounds
    WHERE r.level = 'county' AND r.boundary && ST_Transform(bounds.box, 4326)
      AND ST_Intersects(ST_PointOnSurface(r.boundary), ST_Transform(bounds.box, 4326))
)
SELECT (SELECT coalesce(ST_AsMVT(earth, 'earth', 4096, 'geom'), '') FROM earth WHERE geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(roads, 'roads', 4096, 'geom'), '') FROM roads WHERE geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(buildings, 'buildings', 4096, 'geom'), '') FROM buildings
        WHERE geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(places, 'places', 4096, 'geom'), '') FROM places WHERE geom IS NOT NULL)
"""


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    """The columns and rows of the zoom-z tiles that cover a lon/lat box."""
    west, south, east, north = bbox

    def column(lon: float) -> int:
        return int((lon + 180) / 360 * 2**z)

    def row(lat: float) -> int:
        rad = math.radians(lat)
        return int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * 2**z)

    return range(column(west), column(east) + 1), range(row(north), row(south) + 1)


def write_street_archive(
    path: Path, bbox: tuple[float, float, float, float], zooms: range
) -> dict[tuple[int, int, int], bytes]:
    """Write the archive for the box at the zooms; return each tile's (uncompressed) MVT."""
    west, south, east, north = bbox
    made: dict[int, tuple[tuple[int, int, int], bytes]] = {}
    with connection.cursor() as cursor:
        for z in zooms:
            columns, rows = tile_range(bbox, z)
            for x in columns:
                for y in rows:
                    cursor.execute(
                        TILE_SQL,
                        {
                            "z": z, "x": x, "y": y, "w": west, "s": south, "e": east, "n": north,
                            "spacing": ROAD_SPACING_M, "half_side": BUILDING_HALF_SIDE_M,
                        },
                    )  # fmt: skip
                    data = bytes(cursor.fetchone()[0])
                    if data:
                        made[zxy_to_tileid(z, x, y)] = ((z, x, y), data)
    with path.open("wb") as stream:
        writer = Writer(stream)
        for tileid in sorted(made):  # in tile id order: the archive is clustered
            writer.write_tile(tileid, gzip.compress(made[tileid][1], mtime=0))
        writer.finalize(
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.GZIP,
                "min_zoom": zooms.start,
                "max_zoom": zooms.stop - 1,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
                "center_zoom": zooms.stop - 1,
                "center_lon_e7": int((west + east) / 2 * 1e7),
                "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            {
                "name": "SEGIS test streets",
                "attribution": "SEGIS tests",
                "vector_layers": [{"id": name, "fields": {}} for name in LAYERS],
            },
        )
    return dict(made.values())
