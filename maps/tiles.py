"""Mapbox vector tiles from PostGIS: every layer's rows scoped by the ORM, encoded by ST_AsMVT.

The layer's rows come as SQL from layers.sources; this module wraps them in one of two statements:

* below CLUSTER_BELOW_ZOOM, grid clusters: the rows' points, CLUSTER_CELLS² cells per tile, one
  point per non-empty cell at the mean position of its members, with `count` (for equipment
  filtered by cell columns, read from the pre-counted cells of maps.cells instead);
* from CLUSTER_BELOW_ZOOM on, individual features (lines for pipelines), at most MAX_FEATURES.

Exact counts. A point is placed by its Web Mercator world coordinates u, v (geo.mercator). Its
tile at zoom z is (floor(u·2^z), floor(v·2^z)) and its cell floor(u·2^(z+3)), …: multiplying by a
power of two is exact in floating point, so every point lies in exactly one tile at each zoom (a
point on a shared edge included), a tile's points are exactly its four children's, and the
clusters of the tiles covering an area add up to the rows in it (and to maps.counts).
Pipeline routes are drawn through ST_Transform; points by the formulas, with no PROJ set-up.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.utils import timezone

from geo import crs
from geo.mercator import WORLD_HALF, metres, tile_bounds, world
from geo.scoping import Scope
from layers.filters import LayerQuery
from layers.sources import (
    SOURCES,
    NothingVisible,
    Source,
    Sql,
    envelope,
    execute,
    overlaps,
    rows_sql,
)
from maps import cells

CLUSTER_BELOW_ZOOM = 12
MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
# 2^3 = 8 cells per tile side: 64-pixel cells on a 512-pixel tile; a tile's cells are exactly the
# union of its children's.
CELL_BITS = 3
CLUSTER_CELLS = 1 << CELL_BITS
# Individual features per tile: about 55 bytes each, so a full tile stays under 500 KB.
MAX_FEATURES = 8_000
# Row pre-filter margins, as fractions of a tile: the drawing buffer for features, a hair for clusters.
FEATURE_MARGIN = BUFFER / EXTENT
CLUSTER_MARGIN = 1 / EXTENT


def _tile_envelope_4326(z: int, x: int, y: int, margin: float) -> Sql:
    """The tile widened by `margin` (a fraction of its side), as a lon/lat box."""
    xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
    pad = (xmax - xmin) * margin
    # Held inside the Mercator square: past ±180° a longitude wraps round and the box turns inside
    # out (a tile at the antimeridian would find nothing).
    xs = [max(xmin - pad, -WORLD_HALF), min(xmax + pad, WORLD_HALF)]
    ys = [max(ymin - pad, -WORLD_HALF), min(ymax + pad, WORLD_HALF)]
    (west, east), (south, north) = crs.to_wgs84(xs, ys, crs.CRS.WEB_MERCATOR)
    return envelope(float(west), float(south), float(east), float(north))


def _shape(source: Source) -> str:
    """The 3857 geometry of an individual feature."""
    point = metres(*world(source.point))
    if source.line is None:
        return point
    return (
        f"CASE WHEN {source.line} IS NULL THEN {point} ELSE ST_Transform({source.line}, 3857) END"
    )


_FEATURES = """
SELECT ST_AsMVT(t.*, %s, %s, 'geom'), count(*) FROM (
  SELECT * FROM (
    SELECT ST_AsMVTGeom({shape}, ST_TileEnvelope(%s, %s, %s), %s, %s, true) AS geom,
           {properties}
    FROM ({rows}) AS r
    WHERE {overlaps}
  ) AS f
  WHERE f.geom IS NOT NULL
  LIMIT %s
) AS t
"""

# Rows -> sums per (cell, dominant value) over everything the pre-filter found, the cell being the
# integer (floor(u·2^(z+3)), floor(v·2^(z+3))) -> the cells of this tile (exact integer ranges) ->
# one point per cell at the mean longitude and latitude of its members. The aggregation runs before the tile test so the
# planner sees the real number of rows (it hashes them, and in parallel workers); OFFSET 0 stops
# it from pushing the tile test back down.
_CLUSTERS = """
SELECT ST_AsMVT(t.*, %s, %s, 'geom'), COALESCE(sum(t.count), 0) FROM (
  SELECT ST_AsMVTGeom({mean}, ST_TileEnvelope(%s, %s, %s), %s, %s, true) AS geom,
         sum(c.n)::int AS count, 1 AS cluster{cluster_properties}
  FROM (
    SELECT floor({u} * %s) AS gx, floor({v} * %s) AS gy{by},
           count(*) AS n, sum(ST_X({point})) AS sx, sum(ST_Y({point})) AS sy{sums}
    FROM ({rows}) AS r
    WHERE {overlaps}
    GROUP BY 1, 2{by_position}
    OFFSET 0
  ) AS c
  WHERE c.gx >= %s AND c.gx < %s AND c.gy >= %s AND c.gy < %s
  GROUP BY c.gx, c.gy
) AS t
"""


def _cluster_parts(source: Source) -> dict[str, str]:
    by, by_position, sums, properties = "", "", "", ""
    if source.dominant:
        column, name = source.dominant
        by, by_position = f", r.{column} AS {column}", ", 3"
        properties += f", (array_agg(c.{column} ORDER BY c.n DESC, c.{column}))[1] AS {name}"
    if source.total:
        sums += f", sum(r.{source.total}) AS {source.total}"
        properties += f", sum(c.{source.total})::int AS {source.total}"
    return {"by": by, "by_position": by_position, "sums": sums, "cluster_properties": properties}


# The same clusters from the pre-counted cells (maps.cells): the level's cells of this tile, filtered
# on their columns -> sums per (cluster cell, kind) -> one point per cluster cell.
_PRECOUNTED = f"""
SELECT ST_AsMVT(t.*, %s, %s, 'geom'), COALESCE(sum(t.count), 0) FROM (
  SELECT ST_AsMVTGeom({{mean}}, ST_TileEnvelope(%s, %s, %s), %s, %s, true) AS geom,
         sum(k.n)::int AS count, 1 AS cluster,
         (array_agg(k.kind ORDER BY k.n DESC, k.kind))[1] AS kind
  FROM (
    SELECT c.gx >> %s AS gx, c.gy >> %s AS gy, c.kind,
           sum(c.n) AS n, sum(c.sx) AS sx, sum(c.sy) AS sy
    FROM {cells.TABLE} AS c
    WHERE c.level = %s AND c.depth = %s AND {{region}}
      AND c.gx >= %s AND c.gx < %s AND c.gy >= %s AND c.gy < %s{{columns}}
    GROUP BY 1, 2, 3
  ) AS k
  GROUP BY k.gx, k.gy
) AS t
"""


def precounted_tile_sql(user, query: LayerQuery, z: int, x: int, y: int) -> Sql | None:
    """The equipment clusters of a tile from the cells, or None when the cells cannot answer."""
    columns = cells.answerable_columns(query)
    if query.layer != "equipment" or z >= CLUSTER_BELOW_ZOOM or columns is None:
        return None
    depth, region = cells.region_condition(
        cells.narrowest_prefix(user, columns.pop("region", None))
    )
    cluster_level = z + CELL_BITS
    level = min(level for level in cells.LEVELS if level >= cluster_level)
    first_x, first_y, side = x << (level - z), y << (level - z), 1 << (level - z)
    conditions = [
        Sql(f" AND c.{column} = ANY(%s)", (list(values),)) for column, values in columns.items()
    ]
    shift = level - cluster_level
    params = (
        "equipment", EXTENT, z, x, y, EXTENT, BUFFER, shift, shift, level, depth,
        first_x, first_x + side, first_y, first_y + side,
    )  # fmt: skip
    return Sql(_PRECOUNTED, params).format(
        mean=metres(*world("ST_MakePoint(sum(k.sx) / sum(k.n), sum(k.sy) / sum(k.n))")),
        region=region,
        columns=Sql("".join(c.text for c in conditions), [p for c in conditions for p in c.params]),
    )


def tile_sql(
    layer: str,
    user,
    query: LayerQuery,
    z: int,
    x: int,
    y: int,
    today: dt.date,
    *,
    precounted: bool = True,
) -> Sql:
    """The statement for one tile: it returns (mvt bytes, features or clustered rows in it).
    Equipment clusters come from the pre-counted cells when they can answer (`precounted`)."""
    if precounted and (statement := precounted_tile_sql(user, query, z, x, y)) is not None:
        return statement
    source = SOURCES[layer]
    rows = rows_sql(layer, user, query, today)
    if z >= CLUSTER_BELOW_ZOOM:
        properties = Sql(source.properties, (today,) if source.today_in_properties else ())
        return Sql(_FEATURES, (layer, EXTENT, z, x, y, EXTENT, BUFFER, MAX_FEATURES)).format(
            shape=_shape(source),
            properties=properties,
            rows=rows,
            overlaps=overlaps(layer, _tile_envelope_4326(z, x, y, FEATURE_MARGIN)),
        )
    per_side = float(1 << (z + CELL_BITS))
    gx, gy = x << CELL_BITS, y << CELL_BITS
    params = (layer, EXTENT, z, x, y, EXTENT, BUFFER, per_side, per_side)
    u, v = world(source.point)
    return Sql(_CLUSTERS, (*params, gx, gx + CLUSTER_CELLS, gy, gy + CLUSTER_CELLS)).format(
        mean=metres(*world("ST_MakePoint(sum(c.sx) / sum(c.n), sum(c.sy) / sum(c.n))")),
        point=source.point,
        u=u,
        v=v,
        rows=rows,
        overlaps=overlaps(layer, _tile_envelope_4326(z, x, y, CLUSTER_MARGIN)),
        **_cluster_parts(source),
    )


@dataclass(frozen=True)
class Tile:
    """An encoded tile, the rows it stands for (features, or the clusters' total), and whether
    MAX_FEATURES cut it short."""

    mvt: bytes
    rows: int
    capped: bool


class TileCache:
    """A small in-process LRU of encoded tiles with a time to live, keyed by scope and filters."""

    def __init__(self, max_entries: int = 1024, max_bytes: int = 64 << 20, ttl: float = 60.0):
        self.max_entries, self.max_bytes, self.ttl = max_entries, max_bytes, ttl
        self._entries: OrderedDict[tuple, tuple[float, Tile]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Tile | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple, tile: Tile) -> None:
        if len(tile.mvt) > self.max_bytes // 16:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (time.monotonic() + self.ttl, tile)
            self._bytes += len(tile.mvt)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: tuple) -> None:
        self._bytes -= len(self._entries.pop(key)[1].mvt)


CACHE = TileCache()


def render_tile(layer: str, user, query: LayerQuery, z: int, x: int, y: int) -> Tile:
    """The layer's tile as the user may see it (an empty `mvt` when nothing is there)."""
    today = timezone.localdate()
    # The scope is the user's prefix: users of one jurisdiction share cached tiles, no one else.
    # `today` is in the key because the overdue layer and date windows move with it.
    key = (Scope.of(user).prefix, query.key, z, x, y, today)
    tile = CACHE.get(key)
    if tile is not None:
        return tile
    try:
        mvt, rows = execute(tile_sql(layer, user, query, z, x, y, today))
    except NothingVisible:
        mvt, rows = b"", 0
    capped = z >= CLUSTER_BELOW_ZOOM and rows >= MAX_FEATURES
    tile = Tile(bytes(mvt or b""), int(rows), capped)
    CACHE.put(key, tile)
    return tile
