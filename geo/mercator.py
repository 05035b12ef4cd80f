"""Web Mercator (EPSG:3857) arithmetic for tiles, cells and map framing, as SQL and Python.

geo.crs converts coordinates; this module is its Web Mercator part that runs inside statements and
per tile, where a PROJ call costs more than the work: the spherical formulas, which are what PROJ
computes for EPSG:3857 (equal to ST_Transform within a micrometre, see the tests).

A point is placed by its *world coordinates* u, v in [0, 1): x and y of EPSG:3857 scaled to the
unit square, v growing southward like tile rows. Its tile at zoom z is (floor(u·2^z), floor(v·2^z)).
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6378137.0  # the Web Mercator sphere
# Half the side of the Web Mercator square (π × the radius), in metres.
WORLD_HALF = 20037508.342789244
# Metres per pixel at zoom 0 (256-pixel tiles); halves with each zoom level.
RESOLUTION_AT_ZOOM_0 = 2 * WORLD_HALF / 256
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


def world_u(lon: float) -> float:
    """World coordinate u of a longitude, as WORLD_U computes it."""
    return (lon + 180) / 360


def world_v(lat: float) -> float:
    """World coordinate v of a latitude (inside ±85.05°), as WORLD_V computes it."""
    return (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2


def world_latitude(v: float) -> float:
    """The latitude at world coordinate v: world_v's inverse."""
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v))))


def mercator_y(lat: float) -> float:
    """EPSG:3857 northing (metres) of a latitude."""
    return EARTH_RADIUS_M * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def mercator_latitude(y: float) -> float:
    """The latitude at an EPSG:3857 northing: mercator_y's inverse."""
    return math.degrees(math.atan(math.sinh(y / EARTH_RADIUS_M)))
