"""Mapbox vector tiles from PostGIS: every layer's rows scoped by the ORM, encoded by ST_AsMVT.

The ORM builds the row set (`visible_to(user)`, then the layer's filters) and this module wraps its
SQL, parameterised, in one of three statements — the only raw SQL of the map:

* below CLUSTER_BELOW_ZOOM, grid clusters: the rows' points, CLUSTER_CELLS² cells per tile, one
  point per non-empty cell at the mean position of its members, with `count`;
* `count`: the rows whose point lies in a lon/lat box;
* from CLUSTER_BELOW_ZOOM on, individual features (lines for pipelines), at most MAX_FEATURES.

Exact counts. A point is placed by its Web Mercator *world coordinates* u, v in [0, 1) (x and y
of EPSG:3857 scaled to the unit square, v growing southward like tile rows). Its tile at zoom z
is (floor(u·2^z), floor(v·2^z)) and its cell floor(u·2^(z+3)), …: multiplying by a power of two
is exact in floating point, so every point lies in exactly one tile at each zoom (a point on a
shared edge included), a tile's points are exactly its four children's, and the clusters of the
tiles covering an area add up to the rows in it. `count` tests u, v against the box's corners
put through the same formulas, half-open like tiles: west and north edges in, east and south out.

Rows are found with the GiST index of the stored 4326 column (`location && <box in 4326>`,
widened by a margin so that rounding never loses a row); the exact test follows. Rows with no
geometry (or an empty one) fail `&&` and drop out.

u, v are the spherical Mercator formulas of EPSG:3857 written in SQL (what PROJ computes; equal
to ST_Transform within a micrometre, see the tests). Points need no PROJ set-up per connection
and per parallel worker, which costs more than a small tile; pipeline routes use ST_Transform.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from geo import crs
from registry.models import Accident, EmergencyResource, Equipment, Unit

from . import cells
from .filters import LAYER_FILTERS, MERCATOR_MAX_LATITUDE, BBox, LayerQuery, RegionFilter
from .mercator import WORLD_HALF, metres, tile_bounds, world

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
BBOX_MARGIN_DEGREES = 1e-7


class Sql:
    """A SQL fragment and its parameters; `format` splices other fragments into `{name}` slots,
    keeping the parameters in the order their placeholders appear."""

    SLOT = re.compile(r"\{([a-z_]+)\}")

    def __init__(self, text: str, params: tuple | list = ()):
        self.text, self.params = text, tuple(params)

    def format(self, **parts: Sql | str) -> Sql:
        text, params, at = [], [], 0
        for match in self.SLOT.finditer(self.text):
            part = parts[match[1]]
            part = part if isinstance(part, Sql) else Sql(part)
            text.append(self.text[at : match.start()])
            params.extend(self._params_between(at, match.start()))
            text.append(part.text)
            params.extend(part.params)
            at = match.end()
        text.append(self.text[at:])
        params.extend(self._params_between(at, len(self.text)))
        return Sql("".join(text), params)

    def _params_between(self, start: int, end: int) -> tuple:
        before = self.text[:start].count("%s")
        return self.params[before : before + self.text[start:end].count("%s")]


@dataclass(frozen=True)
class Source:
    """Where a layer's rows come from and what its features carry (SQL over the row alias `r`)."""

    rows: Callable[[Any, dt.date], QuerySet]  # (user, today) -> scoped queryset
    columns: tuple[str, ...]  # fields selected from the queryset (values()), the aliases in `r`
    geometry_columns: tuple[str, ...]  # stored 4326 geometry columns, each GiST-indexed
    point: str  # representative 4326 point: clusters, counts, and the drawn point
    properties: str  # of individual features: "expr AS name, ..."
    line: str | None = None  # a 4326 line drawn instead of the point when present
    # (column, property): the most frequent value of a cluster's members
    dominant: tuple[str, str] | None = None
    total: str | None = None  # a column summed per cluster, under its own name
    today_in_properties: bool = False


_EQUIPMENT = {
    "geometry_columns": ("location", "route"),
    # Halfway along a pipeline's first line: on the route, and cheap (ST_PointOnSurface goes
    # through GEOS, which costs more than everything else a cluster tile does per row).
    "point": "COALESCE(r.location, ST_LineInterpolatePoint(ST_GeometryN(r.route, 1), 0.5))",
    "line": "r.route",
    "dominant": ("kind", "kind"),
}
_EQUIPMENT_COLUMNS = ("id", "kind", "variety_id", "status", "device_code", "location", "route")
_EQUIPMENT_PROPERTIES = (
    "r.id AS id, r.kind AS kind, r.variety_id AS variety, r.status AS status, r.device_code AS code"
)

SOURCES: dict[str, Source] = {
    "equipment": Source(
        rows=lambda user, today: Equipment.objects.visible_to(user),
        columns=_EQUIPMENT_COLUMNS,
        properties=_EQUIPMENT_PROPERTIES,
        **_EQUIPMENT,
    ),
    "overdue": Source(
        rows=lambda user, today: Equipment.objects.visible_to(user).overdue(on=today),
        columns=(*_EQUIPMENT_COLUMNS, "next_inspection_due"),
        properties=_EQUIPMENT_PROPERTIES + ", (%s::date - r.next_inspection_due) AS days_overdue",
        today_in_properties=True,
        **_EQUIPMENT,
    ),
    "units": Source(
        rows=lambda user, today: Unit.objects.visible_to(user),
        columns=("id", "name", "roles", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties="r.id AS id, r.name AS name, array_to_string(r.roles, ',') AS roles",
    ),
    "accidents": Source(
        rows=lambda user, today: Accident.objects.visible_to(user),
        columns=("id", "severity", "deaths", "occurred_at", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties=(
            "r.id AS id, r.severity AS severity, r.deaths AS deaths, "
            "to_json(r.occurred_at) #>> '{}' AS occurred_at"
        ),
        total="deaths",
    ),
    "resources": Source(
        rows=lambda user, today: EmergencyResource.objects.visible_to(user),
        columns=("id", "name", "resource_type", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties="r.id AS id, r.name AS name, r.resource_type AS type",
        dominant=("resource_type", "type"),
    ),
}


class NothingVisible(Exception):
    """The filtered queryset is empty before it reaches the database (none(), an empty IN list)."""


def _rows(layer: str, user, query: LayerQuery, today: dt.date) -> Sql:
    source = SOURCES[layer]
    queryset = query.apply(source.rows(user, today)).order_by().values(*source.columns)
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        raise NothingVisible from None
    return Sql(sql, params)


def _envelope(west: float, south: float, east: float, north: float) -> Sql:
    return Sql("ST_MakeEnvelope(%s, %s, %s, %s, 4326)", (west, south, east, north))


def _tile_envelope_4326(z: int, x: int, y: int, margin: float) -> Sql:
    """The tile widened by `margin` (a fraction of its side), as a lon/lat box."""
    xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
    pad = (xmax - xmin) * margin
    # Held inside the Mercator square: past ±180° a longitude wraps round and the box turns inside
    # out (a tile at the antimeridian would find nothing).
    xs = [max(xmin - pad, -WORLD_HALF), min(xmax + pad, WORLD_HALF)]
    ys = [max(ymin - pad, -WORLD_HALF), min(ymax + pad, WORLD_HALF)]
    (west, east), (south, north) = crs.to_wgs84(xs, ys, crs.CRS.WEB_MERCATOR)
    return _envelope(float(west), float(south), float(east), float(north))


def _overlaps(layer: str, envelope: Sql) -> Sql:
    """`&&` on each stored geometry column (OR: a bitmap OR of GiST index scans)."""
    text = " OR ".join(f"r.{column} && {{envelope}}" for column in SOURCES[layer].geometry_columns)
    return Sql(f"({text})").format(envelope=envelope)


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

_COUNT = """
SELECT count(*) FROM (
  SELECT {u} AS u, {v} AS v FROM ({rows}) AS r WHERE {overlaps} OFFSET 0
) AS p
WHERE p.u >= {west} AND p.u < {east} AND p.v >= {north} AND p.v < {south}
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


# The same clusters from the pre-counted cells (layers.cells): the level's cells of this tile, filtered
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
PRECOUNTED_COLUMNS = ("kind", "variety_id", "status")


def _precounted_columns(query: LayerQuery) -> dict[str, Any] | None:
    """The query's filters as cell columns (region as a prefix), or None if one is not a column."""
    columns: dict[str, Any] = {}
    for index, value in query.values:
        f = LAYER_FILTERS[query.layer][index]
        if isinstance(f, RegionFilter):
            columns["region"] = value
        elif getattr(f, "field", None) in PRECOUNTED_COLUMNS:
            columns[f.field] = value
        else:
            return None
    return columns


def _narrowest(user, region: str | None) -> str:
    """The user's jurisdiction narrowed by a region filter, as a code prefix."""
    prefix = user.jurisdiction_prefix if user is not None and user.is_authenticated else None
    if prefix is None:
        raise NothingVisible
    if region is None or prefix.startswith(region):
        return prefix
    if region.startswith(prefix):
        return region
    raise NothingVisible


def _region_condition(prefix: str) -> tuple[int, Sql]:
    """The depth whose rows to read and the condition on their region for a code prefix."""
    depth = min(d for d in cells.DEPTHS if d >= len(prefix))
    if len(prefix) == depth:
        return depth, Sql("c.region = %s", (prefix,))
    if set(prefix) == {"9"}:
        return depth, Sql("c.region >= %s", (prefix,))
    following = str(int(prefix) + 1).zfill(len(prefix))
    return depth, Sql("c.region >= %s AND c.region < %s", (prefix, following))


def precounted_tile_sql(user, query: LayerQuery, z: int, x: int, y: int) -> Sql | None:
    """The equipment clusters of a tile from the cells, or None when the cells cannot answer."""
    columns = _precounted_columns(query)
    if query.layer != "equipment" or z >= CLUSTER_BELOW_ZOOM or columns is None:
        return None
    depth, region = _region_condition(_narrowest(user, columns.pop("region", None)))
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


# A count over a box from the finest cells: the cells wholly inside the box (whose every point is in
# it, by integer cell ranges) are summed; the points of the box outside those cells, in the strips
# along its edges, are counted live like _COUNT. `inside` holds the cell ranges, computed from the
# corners by the same formulas as _COUNT's.
# The cell ranges wholly inside the box at a level with `side` cells per world side, from the
# corners by the same formulas as _COUNT's: constants to the planner, so they bound the index scan.
_INSIDE = {
    "west_cell": "ceil({west} * %s)::int",
    "east_cell": "(floor({east} * %s)::int - 1)",
    "north_cell": "ceil({north} * %s)::int",
    "south_cell": "(floor({south} * %s)::int - 1)",
}
_PRECOUNTED_COUNT = f"""
SELECT (
  SELECT COALESCE(sum(c.n), 0) FROM {cells.TABLE} AS c
  WHERE c.level = %s AND c.depth = %s AND {{region}}
    AND c.gx BETWEEN {{west_cell}} AND {{east_cell}} AND c.gy BETWEEN {{north_cell}} AND {{south_cell}}{{columns}}
) + (
  SELECT count(*) FROM (
    SELECT {{u}} AS u, {{v}} AS v FROM ({{rows}}) AS r WHERE {{overlaps}} OFFSET 0
  ) AS p
  WHERE p.u >= {{west}} AND p.u < {{east}} AND p.v >= {{north}} AND p.v < {{south}}
    AND NOT (floor(p.u * %s) BETWEEN {{west_cell}} AND {{east_cell}} AND floor(p.v * %s) BETWEEN {{north_cell}} AND {{south_cell}})
)
"""
# A count reads the level at which the box spans at most this many cells: fewer cells to sum the
# coarser the level, more rows in the edge strips (one cell wide) to count live.
COUNT_CELLS_ACROSS = 128


def _world_latitude(v: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v))))


def precounted_count_sql(user, query: LayerQuery, today: dt.date) -> Sql | None:
    """count_sql's answer from the cells and the box's edge strips, or None when the cells cannot
    answer or the box is too small for them to help."""
    columns = _precounted_columns(query)
    if query.layer != "equipment" or columns is None:
        return None
    box = query_box(query)
    west_u, east_u = (box.west + 180) / 360, (box.east + 180) / 360
    north_v = (1 - math.asinh(math.tan(math.radians(box.north))) / math.pi) / 2
    south_v = (1 - math.asinh(math.tan(math.radians(box.south))) / math.pi) / 2
    across = max(east_u - west_u, south_v - north_v)
    level = max(
        (lv for lv in cells.LEVELS if across * (1 << lv) <= COUNT_CELLS_ACROSS),
        default=min(cells.LEVELS),
    )
    side = float(1 << level)
    # Which cells are inside, as Python sees it: only to shape the strips. Each strip reaches one
    # cell further in than that, so an ulp of disagreement with the database costs nothing.
    x0, x1 = math.ceil(west_u * side), math.floor(east_u * side) - 1
    y0, y1 = math.ceil(north_v * side), math.floor(south_v * side) - 1
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    depth, region = _region_condition(_narrowest(user, columns.pop("region", None)))
    inner_west, inner_east = (x0 + 1) / side * 360 - 180, x1 / side * 360 - 180
    inner_north, inner_south = _world_latitude((y0 + 1) / side), _world_latitude(y1 / side)
    strips = [
        (box.west, box.south, inner_west, box.north),
        (inner_east, box.south, box.east, box.north),
        (box.west, inner_north, box.east, box.north),
        (box.west, box.south, box.east, inner_south),
    ]
    overlaps = [_overlaps("equipment", box_envelope(BBox(*strip))) for strip in strips]
    conditions = [
        Sql(f" AND c.{column} = ANY(%s)", (list(values),)) for column, values in columns.items()
    ]
    corners = box_corners(box)
    inside = {name: Sql(text, (side,)).format(**corners) for name, text in _INSIDE.items()}
    u, v = world(SOURCES["equipment"].point)
    return Sql(_PRECOUNTED_COUNT, (level, depth, side, side)).format(
        region=region,
        columns=Sql("".join(c.text for c in conditions), [p for c in conditions for p in c.params]),
        u=u,
        v=v,
        rows=_rows("equipment", user, query, today),
        overlaps=Sql(
            "(" + " OR ".join(o.text for o in overlaps) + ")",
            [p for o in overlaps for p in o.params],
        ),
        **inside,
        **corners,
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
    rows = _rows(layer, user, query, today)
    if z >= CLUSTER_BELOW_ZOOM:
        properties = Sql(source.properties, (today,) if source.today_in_properties else ())
        return Sql(_FEATURES, (layer, EXTENT, z, x, y, EXTENT, BUFFER, MAX_FEATURES)).format(
            shape=_shape(source),
            properties=properties,
            rows=rows,
            overlaps=_overlaps(layer, _tile_envelope_4326(z, x, y, FEATURE_MARGIN)),
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
        overlaps=_overlaps(layer, _tile_envelope_4326(z, x, y, CLUSTER_MARGIN)),
        **_cluster_parts(source),
    )


def query_box(query: LayerQuery) -> BBox:
    """The query's bbox as Web Mercator can project it; the whole world without one."""
    return (query.bbox or BBox(-180, -MERCATOR_MAX_LATITUDE, 180, MERCATOR_MAX_LATITUDE)).clamped()


def box_corners(box: BBox) -> dict[str, Sql]:
    """The half-open box test's edges as world coordinates (`west`, `east`, `north`, `south`):
    the box's corners go through the very formulas the points do."""
    corner_u, corner_v = world("ST_MakePoint(%s, %s)")
    return {
        "west": Sql(corner_u, (box.west, box.south)),
        "east": Sql(corner_u, (box.east, box.north)),
        "north": Sql(corner_v, (box.east, box.north)),
        "south": Sql(corner_v, (box.west, box.south)),
    }


def box_envelope(box: BBox) -> Sql:
    """The index pre-filter of a box test, widened so that rounding never loses a row."""
    m = BBOX_MARGIN_DEGREES
    return _envelope(box.west - m, box.south - m, box.east + m, box.north + m)


def count_sql(layer: str, user, query: LayerQuery, today: dt.date) -> Sql:
    """Rows whose point lies in the bbox (half-open like tiles); the whole world without one."""
    box = query_box(query)
    u, v = world(SOURCES[layer].point)
    return Sql(_COUNT).format(
        u=u,
        v=v,
        rows=_rows(layer, user, query, today),
        overlaps=_overlaps(layer, box_envelope(box)),
        **box_corners(box),
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


def execute(statement: Sql, *, parallel: bool = True) -> tuple:
    """The statement's one row, run without JIT, which compiles a map query for longer than it
    runs (the planner sees millions of rows and costly spatial functions); `parallel=False` for
    small answers, where starting workers costs more than they save on a busy two-core server."""
    settings = "SET LOCAL jit = off; "
    if not parallel:
        settings += "SET LOCAL max_parallel_workers_per_gather = 0; "
    # One round trip instead of four (BEGIN, SET LOCAL, the query, COMMIT): Django binds
    # parameters client-side with psycopg 3, so the statements travel as one simple query whose
    # implicit transaction bounds the SET LOCALs (inside an atomic block, that block does).
    with connection.cursor() as cursor:
        cursor.execute(settings + statement.text, statement.params)
        while cursor.description is None and cursor.nextset():
            pass
        return cursor.fetchone()


def render_tile(layer: str, user, query: LayerQuery, z: int, x: int, y: int) -> Tile:
    """The layer's tile as the user may see it (an empty `mvt` when nothing is there)."""
    today = timezone.localdate()
    # The scope is the user's prefix: users of one jurisdiction share cached tiles, no one else.
    # `today` is in the key because the overdue layer and date windows move with it.
    key = (user.jurisdiction_prefix, query.key, z, x, y, today)
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


def count_features(layer: str, user, query: LayerQuery, *, precounted: bool = True) -> int:
    """The filtered rows in the query's bbox: the sum of the cluster counts over that area."""
    today = timezone.localdate()
    try:
        statement = precounted and precounted_count_sql(user, query, today)
        return int(execute(statement or count_sql(layer, user, query, today))[0])
    except NothingVisible:
        return 0
