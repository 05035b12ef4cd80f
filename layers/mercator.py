"""Web Mercator tile arithmetic shared by the tiles and the pre-counted cells, as SQL and Python.

A point is placed by its *world coordinates* u, v in [0, 1): x and y of EPSG:3857 scaled to the
unit square, v growing southward like tile rows. Its tile at zoom z is (floor(u·2^z), floor(v·2^z)).
u, v are the spherical Mercator formulas of EPSG:3857 written in SQL (what PROJ computes; equal to
ST_Transform within a micrometre, see the tests): points need no PROJ set-up per connection and per
parallel worker, which costs more than a small tile.
"""

from __future__ import annotations

# Half the side of the Web Mercator square (EPSG:3857), in metres.
WORLD_HALF = 20037508.342789244
# World coordinates of a 4326 point expression {p}. The latitude is held off the poles, where the
# projection has no value: such points land outside every tile instead of failing the query.
WORLD_U = "((ST_X({p}) + 180.0) / 360.0)"
WORLD_V = (
    "((1.0 - atanh(sin(LEAST(GREATEST(ST_Y({p}), -89.9999999), 89.9999999) * 0.017453292519943295))"
    " / pi()) / 2.0)"
)
# From world coordinates back to EPSG:3857 metres, to draw.
METRES_X = f"({{u}} * {2 * WORLD_HALF!r} - {WORLD_HALF!r})"
METRES_Y = f"({WORLD_HALF!r} - {{v}} * {2 * WORLD_HALF!r})"


def world(point_sql: str) -> tuple[str, str]:
    """SQL for the world coordinates (u, v) of a 4326 point expression."""
    return WORLD_U.replace("{p}", point_sql), WORLD_V.replace("{p}", point_sql)


def metres(u_sql: str, v_sql: str) -> str:
    """SQL for the EPSG:3857 point at world coordinates (u, v)."""
    x, y = METRES_X.replace("{u}", u_sql), METRES_Y.replace("{v}", v_sql)
    return f"ST_SetSRID(ST_MakePoint({x}, {y}), 3857)"


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's Web Mercator envelope (xmin, ymin, xmax, ymax), by ST_TileEnvelope's arithmetic."""
    size = 2 * WORLD_HALF / (1 << z)
    return (
        -WORLD_HALF + size * x,
        WORLD_HALF - size * (y + 1),
        -WORLD_HALF + size * (x + 1),
        WORLD_HALF - size * y,
    )
