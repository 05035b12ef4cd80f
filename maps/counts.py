"""How many of a layer's filtered rows lie in a box: the map's counts in view.

`count` tests each row's world coordinates u, v (geo.mercator) against the box's corners put
through the same formulas, half-open like tiles: west and north edges in, east and south out, so the
count over an area equals the sum of the cluster counts of the tiles covering it. Equipment counts
filtered by columns of the pre-counted cells (maps.cells) sum the cells wholly inside the box and
count only the edge strips row by row.
"""

from __future__ import annotations

import datetime as dt
import math

from django.utils import timezone

from geo.mercator import world, world_latitude, world_u, world_v
from layers.filters import BBox, LayerQuery
from layers.sources import (
    SOURCES,
    NothingVisible,
    Sql,
    box_corners,
    box_envelope,
    execute,
    overlaps,
    query_box,
    rows_sql,
)
from maps import cells

_COUNT = """
SELECT count(*) FROM (
  SELECT {u} AS u, {v} AS v FROM ({rows}) AS r WHERE {overlaps} OFFSET 0
) AS p
WHERE p.u >= {west} AND p.u < {east} AND p.v >= {north} AND p.v < {south}
"""


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


def precounted_count_sql(user, query: LayerQuery, today: dt.date) -> Sql | None:
    """count_sql's answer from the cells and the box's edge strips, or None when the cells cannot
    answer or the box is too small for them to help."""
    columns = cells.answerable_columns(query)
    if query.layer != "equipment" or columns is None:
        return None
    box = query_box(query)
    west_u, east_u = world_u(box.west), world_u(box.east)
    north_v, south_v = world_v(box.north), world_v(box.south)
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
    depth, region = cells.region_condition(
        cells.narrowest_prefix(user, columns.pop("region", None))
    )
    inner_west, inner_east = (x0 + 1) / side * 360 - 180, x1 / side * 360 - 180
    inner_north, inner_south = world_latitude((y0 + 1) / side), world_latitude(y1 / side)
    strips = [
        (box.west, box.south, inner_west, box.north),
        (inner_east, box.south, box.east, box.north),
        (box.west, inner_north, box.east, box.north),
        (box.west, box.south, box.east, inner_south),
    ]
    in_strips = [overlaps("equipment", box_envelope(BBox(*strip))) for strip in strips]
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
        rows=rows_sql("equipment", user, query, today),
        overlaps=Sql(
            "(" + " OR ".join(o.text for o in in_strips) + ")",
            [p for o in in_strips for p in o.params],
        ),
        **inside,
        **corners,
    )


def count_sql(layer: str, user, query: LayerQuery, today: dt.date) -> Sql:
    """Rows whose point lies in the bbox (half-open like tiles); the whole world without one."""
    box = query_box(query)
    u, v = world(SOURCES[layer].point)
    return Sql(_COUNT).format(
        u=u,
        v=v,
        rows=rows_sql(layer, user, query, today),
        overlaps=overlaps(layer, box_envelope(box)),
        **box_corners(box),
    )


def count_features(layer: str, user, query: LayerQuery, *, precounted: bool = True) -> int:
    """The filtered rows in the query's bbox: the sum of the cluster counts over that area."""
    today = timezone.localdate()
    try:
        statement = precounted and precounted_count_sql(user, query, today)
        return int(execute(statement or count_sql(layer, user, query, today))[0])
    except NothingVisible:
        return 0
