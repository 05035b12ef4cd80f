"""Coordinate systems and conversions: the only module in SEGIS that moves coordinates, and the
one registry of the systems users may name (REGISTRY: EPSG code, axis order, labels, the surfaces
offering each) with the one parser of their names (`parse`). Web Mercator's tile arithmetic, which
runs inside SQL statements, is its companion geo.mercator.

Everything is lon, lat (x, y) order, whatever the authority order of the EPSG code.
Functions accept Python floats or numpy arrays and return the same kind; arrays are converted
in bulk with no Python loop per point.

GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are obfuscated offsets of hundreds of metres with no
EPSG code. They are converted at the edges (pickers, imports, a GCJ-02 basemap) and never
stored. Their inverses are solved iteratively: the one-step inverse is off by metres.
The formulas follow ``prcoords`` (public domain), which the tests use as the reference.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeAlias

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from numpy.typing import NDArray
from pyproj import Transformer

__all__ = [
    "CRS",
    "CRS84",
    "EPSG",
    "REGISTRY",
    "STORAGE_SRID",
    "CRSMismatch",
    "NotConverged",
    "Offered",
    "Surface",
    "UnknownCRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "epsg_uri",
    "from_gauss_kruger",
    "from_wgs84",
    "gauss_kruger_epsg",
    "gauss_kruger_zone",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china_bbox",
    "offered_on",
    "parse",
    "srid_for",
    "to_gauss_kruger",
    "to_storage",
    "to_wgs84",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Coord: TypeAlias = float | NDArray[np.float64]
_Array: TypeAlias = NDArray[np.float64]


class UnknownCRS(ValueError):
    """A CRS name we do not accept; the message lists what is accepted, `hint` (in brackets,
    English) says why when a near miss allows it: a zone out of range, a system not offered there."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class CRSMismatch(ValueError):
    """A geometry's SRID contradicts the CRS the caller says it is in."""


class NotConverged(ArithmeticError):
    """An iterative inverse did not reach its tolerance (should not happen inside China)."""


class CRS(StrEnum):
    """The coordinate systems users can give or ask for."""

    WGS84 = "wgs84"  # EPSG:4326, storage
    CGCS2000 = "cgcs2000"  # EPSG:4490; PROJ applies no shift vs 4326, so stored as is
    WEB_MERCATOR = "webmercator"  # EPSG:3857, metres
    GCJ02 = "gcj02"  # Amap/Tencent obfuscated offset, no EPSG code
    BD09 = "bd09"  # Baidu offset on top of GCJ-02, no EPSG code

    @classmethod
    def parse(cls, value: str | int | CRS) -> CRS:
        """The system a user-given name, EPSG code or URI names (see `parse`), to convert with.

        This names a datum only: every function here takes lon, lat whatever the code's
        authority axis order (Offered.northing_first says it, for OGC API).
        """
        if isinstance(value, CRS):
            return value
        found, _ = _lookup(value)
        if found is not None and found.zone is None:
            return found.system
        raise UnknownCRS(
            f"Unknown coordinate system {_shown(value)}; use one of: "
            + ", ".join(c.value for c in cls)
            + " (or EPSG:4326, EPSG:4490, EPSG:3857)."
        )


EPSG: dict[CRS, int] = {CRS.WGS84: 4326, CRS.CGCS2000: 4490, CRS.WEB_MERCATOR: 3857}
STORAGE_SRID = 4326


def srid_for(crs: CRS) -> int:
    """SRID to label a geometry in ``crs`` with: 4326 for GCJ-02/BD-09, which have no code."""
    return EPSG.get(crs, STORAGE_SRID)


# --- the rough China box ---------------------------------------------------------------------

# Same inclusive box as prcoords.sanity_in_china_p. Its edges lie ≥ 100 km outside Chinese
# territory (but it also covers Korea, parts of Japan, Mongolia...), so it only decides where
# the GCJ-02 offset applies and flags points that are surely not in China.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271


def _in_box(lon: _Array, lat: _Array) -> NDArray[np.bool_]:
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def in_china_bbox(lon: Coord, lat: Coord) -> bool | NDArray[np.bool_]:
    """True where a point is inside the rough China box (NaN is outside)."""
    x, y, scalar = _to_arrays(lon, lat)
    inside = _in_box(x, y)
    return bool(inside[()]) if scalar else inside


# --- array plumbing ------------------------------------------------------------------------


def _to_arrays(lon: Any, lat: Any) -> tuple[_Array, _Array, bool]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _pointwise(
    core: Callable[[_Array, _Array], tuple[_Array, _Array]],
) -> Callable[[Coord, Coord], tuple[Coord, Coord]]:
    """Wrap a 1-D array function so it takes and returns floats or arrays of any shape."""

    @functools.wraps(core)
    def wrapper(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
        x, y, scalar = _to_arrays(lon, lat)
        rx, ry = core(x.ravel(), y.ravel())
        if scalar:
            return float(rx[0]), float(ry[0])
        return rx.reshape(x.shape), ry.reshape(x.shape)

    return wrapper


def _masked(
    shift: Callable[[_Array, _Array], tuple[_Array, _Array]],
) -> Callable[[_Array, _Array], tuple[_Array, _Array]]:
    """Apply ``shift`` only to points in the China box; the rest come back unchanged."""

    def apply(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
        out_lon, out_lat = lon.copy(), lat.copy()
        inside = _in_box(lon, lat)
        if inside.any():
            out_lon[inside], out_lat[inside] = shift(lon[inside], lat[inside])
        return out_lon, out_lat

    return apply


# --- GCJ-02 and BD-09 ------------------------------------------------------------------------

_GCJ_A = 6378245.0  # Krasovsky 1940, which GCJ-02 mixes into WGS84 coordinates
_GCJ_EE = 0.00669342162296594323
_BD_DLON, _BD_DLAT = 0.0065, 0.0060
_BD_FREQ = math.pi * 3000.0 / 180.0

# 1e-10° is ~0.01 mm, far below the 0.01 m we promise, and far above float64 noise (~1e-14°)
# so convergence is always reachable. Each step shrinks the error ~1000-fold: 3–4 steps.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 20


def _gcj_offset(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    # The published GCJ-02 polynomial gives the offset in metres, then turns it into degrees
    # on the Krasovsky ellipsoid; kept term by term as prcoords has it so the two agree.
    x, y = lon - 105.0, lat - 35.0
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (
            2.0 * np.sin(x * 6.0 * np.pi)
            + 2.0 * np.sin(x * 2.0 * np.pi)
            + 2.0 * np.sin(y * np.pi)
            + 4.0 * np.sin(y / 3.0 * np.pi)
            + 16.0 * np.sin(y / 12.0 * np.pi)
            + 32.0 * np.sin(y / 30.0 * np.pi)
        )
        * 20.0
        / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (
            2.0 * np.sin(x * 6.0 * np.pi)
            + 2.0 * np.sin(x * 2.0 * np.pi)
            + 2.0 * np.sin(x * np.pi)
            + 4.0 * np.sin(x / 3.0 * np.pi)
            + 15.0 * np.sin(x / 12.0 * np.pi)
            + 30.0 * np.sin(x / 30.0 * np.pi)
        )
        * 20.0
        / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    lat_deg_arclen = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / magic**1.5)
    lon_deg_arclen = np.radians(_GCJ_A * np.cos(rad_lat) / np.sqrt(magic))
    return dlon_m / lon_deg_arclen, dlat_m / lat_deg_arclen


def _gcj_forward(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    r = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_FREQ)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_FREQ)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def _bd_rough_inverse(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    x, y = lon - _BD_DLON, lat - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_FREQ)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_FREQ)
    return r * np.cos(theta), r * np.sin(theta)


def _gcj_rough_inverse(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon - dlon, lat - dlat


def _solve(
    forward: Callable[[_Array, _Array], tuple[_Array, _Array]],
    rough_inverse: Callable[[_Array, _Array], tuple[_Array, _Array]],
) -> Callable[[_Array, _Array], tuple[_Array, _Array]]:
    """Invert ``forward`` by fixed-point iteration on the whole array at once.

    The offsets vary slowly (their derivative is ~1e-3), so x ← x − (forward(x) − target)
    contracts fast. The correction computed in the last round is always applied, so the
    result is even closer than the tolerance that stopped the loop.
    """

    def inverse(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
        x, y = rough_inverse(lon, lat)
        for _ in range(_MAX_ITERATIONS):
            fx, fy = forward(x, y)
            dx, dy = fx - lon, fy - lat
            x, y = x - dx, y - dy
            if max(np.max(np.abs(dx)), np.max(np.abs(dy))) < _TOLERANCE_DEG:
                return x, y
        raise NotConverged(
            f"coordinate inverse did not converge to {_TOLERANCE_DEG}° "
            f"in {_MAX_ITERATIONS} iterations"
        )

    return inverse


# The box test runs on the input of each step: forward on the true point, inverse on the
# obfuscated one. Within a few hundred metres of the box edge (all far outside China) a round
# trip can therefore differ; inside China it is exact to the tolerance.
_wgs_to_gcj = _masked(_gcj_forward)
_gcj_to_wgs = _masked(_solve(_gcj_forward, _gcj_rough_inverse))
# prcoords applies the Baidu shift everywhere; we keep BD-09 equal to WGS84 outside the box too,
# so that "outside China" means "unchanged" for every obfuscated system.
_gcj_to_bd = _masked(_bd_forward)
_bd_to_gcj = _masked(_solve(_bd_forward, _bd_rough_inverse))


def _wgs_to_bd(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


def _bd_to_wgs(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


wgs84_to_gcj02 = _pointwise(_wgs_to_gcj)
wgs84_to_gcj02.__doc__ = "WGS84 → GCJ-02 (Amap/Tencent); points outside the China box unchanged."
gcj02_to_wgs84 = _pointwise(_gcj_to_wgs)
gcj02_to_wgs84.__doc__ = "GCJ-02 → WGS84, iterated to ~1e-10° (< 0.01 mm)."
gcj02_to_bd09 = _pointwise(_gcj_to_bd)
gcj02_to_bd09.__doc__ = "GCJ-02 → BD-09 (Baidu); points outside the China box unchanged."
bd09_to_gcj02 = _pointwise(_bd_to_gcj)
bd09_to_gcj02.__doc__ = "BD-09 → GCJ-02, iterated to ~1e-10°."
wgs84_to_bd09 = _pointwise(_wgs_to_bd)
wgs84_to_bd09.__doc__ = "WGS84 → BD-09 through GCJ-02."
bd09_to_wgs84 = _pointwise(_bd_to_wgs)
bd09_to_wgs84.__doc__ = "BD-09 → WGS84 through GCJ-02, both steps iterated."


# --- EPSG systems ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _transformer(source_epsg: int, target_epsg: int) -> Transformer:
    # Only integer codes from EPSG reach PROJ, never a user string.
    return Transformer.from_crs(source_epsg, target_epsg, always_xy=True)


def _mercator_to_wgs(x: _Array, y: _Array) -> tuple[_Array, _Array]:
    lon, lat = _transformer(3857, 4326).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _wgs_to_mercator(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    x, y = _transformer(4326, 3857).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _identity(lon: _Array, lat: _Array) -> tuple[_Array, _Array]:
    return lon.copy(), lat.copy()


_TO_WGS = {
    CRS.WGS84: _identity,
    CRS.CGCS2000: _identity,  # PROJ's 4490→4326 is a null transform; tested against pyproj
    CRS.WEB_MERCATOR: _mercator_to_wgs,
    CRS.GCJ02: _gcj_to_wgs,
    CRS.BD09: _bd_to_wgs,
}
_FROM_WGS = {
    CRS.WGS84: _identity,
    CRS.CGCS2000: _identity,
    CRS.WEB_MERCATOR: _wgs_to_mercator,
    CRS.GCJ02: _wgs_to_gcj,
    CRS.BD09: _wgs_to_bd,
}


def _convert_arrays(lon: _Array, lat: _Array, source: CRS, target: CRS) -> tuple[_Array, _Array]:
    if source == target:
        return _identity(lon, lat)
    if (source, target) == (CRS.GCJ02, CRS.BD09):
        return _gcj_to_bd(lon, lat)  # direct: no needless round trip through WGS84
    if (source, target) == (CRS.BD09, CRS.GCJ02):
        return _bd_to_gcj(lon, lat)
    return _FROM_WGS[target](*_TO_WGS[source](lon, lat))


def convert(lon: Coord, lat: Coord, source: CRS, target: CRS) -> tuple[Coord, Coord]:
    """Convert lon, lat (or x, y in metres for Web Mercator) from ``source`` to ``target``."""
    source, target = CRS.parse(source), CRS.parse(target)
    return _pointwise(lambda x, y: _convert_arrays(x, y, source, target))(lon, lat)


def to_wgs84(lon: Coord, lat: Coord, source: CRS) -> tuple[Coord, Coord]:
    """Convert from ``source`` into WGS84 lon, lat."""
    return convert(lon, lat, source, CRS.WGS84)


def from_wgs84(lon: Coord, lat: Coord, target: CRS) -> tuple[Coord, Coord]:
    """Convert WGS84 lon, lat into ``target``."""
    return convert(lon, lat, CRS.WGS84, target)


# --- CGCS2000 Gauss-Krüger ------------------------------------------------------------------

# The 3-degree zones with the zone number in front of the easting (EPSG:4513 zone 25, central
# meridian 75°E … EPSG:4533 zone 45, 135°E): an easting such as 35 512 345.6 names its own zone.
# The sister family without the prefix (EPSG:4534–4554, "CM 75E" …) is deliberately not offered.
GAUSS_KRUGER_ZONES = range(25, 46)
_GAUSS_KRUGER_FIRST_EPSG = 4513


def gauss_kruger_epsg(zone: int) -> int:
    """EPSG code of a CGCS2000 3-degree Gauss-Krüger zone (25–45, easting with zone prefix)."""
    if isinstance(zone, bool) or not isinstance(zone, int) or zone not in GAUSS_KRUGER_ZONES:
        raise UnknownCRS(
            f"Gauss-Krüger zone {zone!r} is not one of "
            f"{GAUSS_KRUGER_ZONES.start}–{GAUSS_KRUGER_ZONES.stop - 1} (central meridians 75°E–135°E)."
        )
    return _GAUSS_KRUGER_FIRST_EPSG + zone - GAUSS_KRUGER_ZONES.start


def gauss_kruger_zone(lon: float) -> int:
    """The 3-degree zone whose central meridian (3° × zone) is nearest to a longitude."""
    return min(
        max(math.floor(lon / 3.0 + 0.5), GAUSS_KRUGER_ZONES.start), GAUSS_KRUGER_ZONES.stop - 1
    )


def to_gauss_kruger(lon: Coord, lat: Coord, zone: int) -> tuple[Coord, Coord]:
    """WGS84 (≡ CGCS2000, see CRS.CGCS2000) lon, lat → easting (zone-prefixed), northing in metres."""
    transformer = _transformer(EPSG[CRS.CGCS2000], gauss_kruger_epsg(zone))

    def core(x: _Array, y: _Array) -> tuple[_Array, _Array]:
        e, n = transformer.transform(x, y)
        return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64)

    return _pointwise(core)(lon, lat)


def from_gauss_kruger(x: Coord, y: Coord, zone: int) -> tuple[Coord, Coord]:
    """Easting (zone-prefixed), northing of a Gauss-Krüger zone → WGS84 lon, lat."""
    transformer = _transformer(gauss_kruger_epsg(zone), EPSG[CRS.CGCS2000])

    def core(e: _Array, n: _Array) -> tuple[_Array, _Array]:
        lon, lat = transformer.transform(e, n)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    return _pointwise(core)(x, y)


# --- the registry of offered systems ----------------------------------------------------------


class Surface(StrEnum):
    """Where users name a coordinate system; each offers its own set of the registry."""

    IMPORT = "import"  # files and records coming in, which say what their coordinates are in
    EXPORT = "export"  # layer exports
    OGC = "ogc"  # OGC API - Features `crs` and `bbox-crs`: the advertised URIs only
    RESPONSE = "response"  # coordinates a responder types, pastes or picks


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_NAME_LENGTH = 64


def epsg_uri(code: int) -> str:
    """The OGC URI of an EPSG code."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


@dataclass(frozen=True)
class Offered:
    """A coordinate system SEGIS offers: its name, EPSG code, axis order, labels and surfaces."""

    name: str  # what users give: wgs84 … gk45; OGC's crs84 by its URI only
    system: CRS  # what geo.crs converts it as (a Gauss-Krüger zone: CGCS2000, then projected)
    epsg: int | None  # None: GCJ-02 and BD-09 have no code
    label: str  # short and ASCII: in file names and field dictionaries
    zh: str
    en: str
    surfaces: frozenset[Surface]
    # The authority axis order: lat, lon (EPSG:4326, 4490); northing, easting (Gauss-Krüger).
    # SEGIS itself is always x, y (lon, lat); only OGC API answers in this order.
    northing_first: bool = False
    zone: int | None = None  # CGCS2000 3-degree Gauss-Krüger zone
    note: str = ""  # what a file in this system says about it
    uri: str | None = None  # the OGC URI; the EPSG code's unless given

    def __post_init__(self) -> None:
        if self.uri is None and self.epsg is not None:
            object.__setattr__(self, "uri", epsg_uri(self.epsg))

    @property
    def srid(self) -> int:
        """The EPSG code to label a geometry with: 4326 for GCJ-02, which has none."""
        return STORAGE_SRID if self.epsg is None else self.epsg

    @property
    def geographic(self) -> bool:
        """Degrees (lon, lat) rather than metres (x, y)."""
        return self.zone is None and self.system is not CRS.WEB_MERCATOR

    @property
    def unchanged(self) -> bool:
        """Stored coordinates are already these (WGS84, and CGCS2000 which PROJ does not shift)."""
        return self.zone is None and self.system in (CRS.WGS84, CRS.CGCS2000)

    @property
    def title(self) -> str:
        """The label with its description in both languages, as choices show it."""
        return f"{self.label}（{self.zh} / {self.en}）"

    def from_wgs84(self, lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
        """WGS84 lon, lat → x, y (east first) in this system."""
        if self.zone is not None:
            return to_gauss_kruger(lon, lat, self.zone)
        return convert(lon, lat, CRS.WGS84, self.system)

    def to_wgs84(self, x: Coord, y: Coord) -> tuple[Coord, Coord]:
        """x, y (east first) in this system → WGS84 lon, lat."""
        if self.zone is not None:
            return from_gauss_kruger(x, y, self.zone)
        return convert(x, y, self.system, CRS.WGS84)


_EVERYWHERE = frozenset(Surface)
_GCJ02_NOTE = (
    "GCJ-02（国测局加偏坐标，高德/腾讯底图用）没有 EPSG 代码：文件标为 EPSG:4326，但坐标不是 WGS84，"
    "只可叠加在 GCJ-02 底图上 / GCJ-02 (the obfuscated system of Amap and Tencent maps) has no EPSG "
    "code: the file is labelled EPSG:4326 but its coordinates are not WGS84; overlay them on a "
    "GCJ-02 basemap only"
)


def _gauss_kruger(zone: int) -> Offered:
    code = gauss_kruger_epsg(zone)
    return Offered(
        f"gk{zone}",
        CRS.CGCS2000,
        code,
        f"CGCS2000-GK{zone}",
        f"CGCS2000 3度带高斯-克吕格第{zone}带",
        f"CGCS2000 3-degree Gauss-Krüger zone {zone}",
        frozenset({Surface.EXPORT, Surface.OGC}),
        northing_first=True,
        zone=zone,
        note=f"EPSG:{code} CGCS2000 3度带高斯-克吕格第{zone}带，中央经线 {3 * zone}°E，东坐标含带号 / "
        f"3-degree Gauss-Krüger zone {zone}, central meridian {3 * zone}°E, easting prefixed with "
        "the zone number",
    )


# Every offered system, in the order lists show them.
REGISTRY: dict[str, Offered] = {
    offered.name: offered
    for offered in (
        Offered("crs84", CRS.WGS84, 4326, "CRS84", "WGS84 经纬度，经度在前",
                "WGS84 lon/lat, longitude first", frozenset({Surface.OGC}), uri=CRS84,
                note="OGC CRS84"),
        Offered("wgs84", CRS.WGS84, 4326, "WGS84", "GPS 原始坐标", "GPS", _EVERYWHERE,
                northing_first=True, note="EPSG:4326"),
        Offered("cgcs2000", CRS.CGCS2000, 4490, "CGCS2000", "国家 2000", "China Geodetic 2000",
                _EVERYWHERE, northing_first=True,
                note="EPSG:4490（与 WGS84 相差厘米级，不作转换 / within centimetres of WGS84, not "
                "shifted）"),
        Offered("webmercator", CRS.WEB_MERCATOR, 3857, "WebMercator", "Web 墨卡托",
                "Web Mercator", frozenset({Surface.EXPORT, Surface.OGC}),
                note="EPSG:3857, metres"),
        Offered("gcj02", CRS.GCJ02, None, "GCJ-02", "高德、腾讯", "Amap, Tencent",
                frozenset({Surface.IMPORT, Surface.EXPORT, Surface.RESPONSE}), note=_GCJ02_NOTE),
        Offered("bd09", CRS.BD09, None, "BD-09", "百度", "Baidu",
                frozenset({Surface.IMPORT, Surface.RESPONSE}),
                note="BD-09（百度地图在 GCJ-02 上再加偏）没有 EPSG 代码 / BD-09 (Baidu's offset on "
                "top of GCJ-02) has no EPSG code"),
        *(_gauss_kruger(zone) for zone in GAUSS_KRUGER_ZONES),
    )
}  # fmt: skip


def _squash(name: str) -> str:
    # Users write "GCJ-02", "gcj_02", "Web Mercator": compare without case or separators.
    return "".join(name.strip().lower().split()).replace("-", "").replace("_", "")


def _forms(offered: Offered) -> Iterator[str]:
    yield from (offered.name, offered.label)
    if offered.epsg is not None:
        code = offered.epsg
        yield from (f"{code}", f"epsg:{code}", f"epsg{code}", f"urn:ogc:def:crs:epsg::{code}")
        yield from (epsg_uri(code), epsg_uri(code).replace("http:", "https:"))
    if offered.zone is not None:
        for family in ("gk", "gausskruger", "gauss"):
            yield from (f"{family}{offered.zone}", f"cgcs2000{family}{offered.zone}")


def _build_aliases() -> dict[str, Offered]:
    aliases = {
        _squash(form): offered
        for offered in REGISTRY.values()
        # OGC's lon/lat WGS84 is its own entry for its URI and axis order; by name it is wgs84.
        if offered.uri != CRS84
        for form in _forms(offered)
    }
    extra = {
        "crs84": "wgs84",  # OGC lon/lat WGS84, what OGC API Features sends by default
        CRS84: "wgs84",
        "urn:ogc:def:crs:ogc:1.3:crs84": "wgs84",
        "gps": "wgs84",
        "pseudo-mercator": "webmercator",
        "900913": "webmercator",
        "epsg:900913": "webmercator",
        "gcj": "gcj02",
        # Baidu's own name for lon/lat BD-09. "bd09mc" (Baidu Mercator) is a different
        # system and deliberately not accepted.
        "bd09ll": "bd09",
    }
    aliases.update({_squash(k): REGISTRY[v] for k, v in extra.items()})
    return aliases


_ALIASES = _build_aliases()
_BY_URI = {offered.uri: offered for offered in REGISTRY.values() if offered.uri is not None}
# Near misses, to say why they are refused: a zone out of range, the Gauss-Krüger family whose
# easting carries no zone number (EPSG:4534–4554, "CM 75E" …), deliberately not offered.
_ZONE_NAME = re.compile(r"(?:cgcs2000)?(?:gk|gausskruger|gauss)(\d{1,2})")
_EPSG_CODE = re.compile(r"(?:epsg:?)?(\d{4,5})")
_ZONES_WITHOUT_PREFIX = range(4534, 4555)


def _near_miss(squashed: str) -> str:
    if _ZONE_NAME.fullmatch(squashed):
        return f" (zones {GAUSS_KRUGER_ZONES.start}–{GAUSS_KRUGER_ZONES.stop - 1})"
    code = _EPSG_CODE.fullmatch(squashed)
    if code and int(code[1]) in _ZONES_WITHOUT_PREFIX:
        return " (the CM family without zone prefix is not offered: use gk25 … gk45)"
    return ""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _lookup(value: object) -> tuple[Offered | None, str]:
    """The offered system a name, EPSG code or URI stands for, or None and a hint."""
    if isinstance(value, Offered):
        return value, ""
    # bool is an int: True must not become EPSG:1.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH:
        return None, ""
    squashed = _squash(value)
    found = _ALIASES.get(squashed)
    return (found, "") if found is not None else (None, _near_miss(squashed))


def offered_on(surface: Surface) -> dict[str, Offered]:
    """The systems a surface offers, by name, in the registry's order."""
    return {name: offered for name, offered in REGISTRY.items() if surface in offered.surfaces}


def parse(value: str | int | Offered, surface: Surface) -> Offered:
    """The system a user names, if `surface` offers it: by name, EPSG code or URI, without case
    or separators; on OGC API by an advertised URI exactly, as its clients send them. Anything
    else is UnknownCRS, with a hint where a near miss allows one."""
    if surface is Surface.OGC:
        found, hint = _BY_URI.get(value.strip()) if isinstance(value, str) else None, ""
    else:
        found, hint = _lookup(value)
    if found is not None and surface not in found.surfaces:
        found, hint = None, f" ({found.label} is not offered for {surface})"
    if found is None:
        raise UnknownCRS(
            f"Unknown coordinate system {_shown(value)}{hint}; {surface} offers: "
            + ", ".join(offered_on(surface)),
            hint,
        )
    return found


# --- geometries ------------------------------------------------------------------------------


def _check_srid(geom: GEOSGeometry, source: CRS) -> None:
    # A wrong label is a bug upstream (e.g. metres read as degrees): refuse, don't guess.
    if geom.srid is None:
        return
    expected = srid_for(source)
    if geom.srid != expected:
        raise CRSMismatch(
            f"Geometry has SRID {geom.srid} but was given as {source.value} "
            f"(SRID {expected}); pass the CRS it is really in."
        )


def transform_geometry(geom: GEOSGeometry, source: CRS, target: CRS) -> GEOSGeometry:
    """Return a new geometry with every vertex converted; the input is left untouched.

    The result's SRID is EPSG of ``target``, or 4326 for GCJ-02/BD-09, which have no code:
    such a geometry is labelled 4326 but is not WGS84, so callers must never store it.
    A geometry with no SRID is taken to be in ``source``; Z values are kept as they are.
    """
    source, target = CRS.parse(source), CRS.parse(target)
    _check_srid(geom, source)
    srid = srid_for(target)
    if _TO_WGS[source] is _identity and _FROM_WGS[target] is _identity:
        moved = geom.clone()  # WGS84 ⇄ CGCS2000: only the label changes
        moved.srid = srid
        return moved

    def move(coords: _Array) -> _Array:
        out = coords.copy()
        out[:, 0], out[:, 1] = _convert_arrays(coords[:, 0], coords[:, 1], source, target)
        return out

    shape = shapely.from_wkb(bytes(geom.wkb))
    moved = shapely.transform(shape, move, include_z=geom.hasz)
    return GEOSGeometry(memoryview(shapely.to_wkb(moved)), srid=srid)


def to_storage(geom: GEOSGeometry, source: CRS = CRS.WGS84) -> GEOSGeometry:
    """Return ``geom`` converted from ``source`` into the stored CRS (SRID 4326)."""
    return transform_geometry(geom, source, CRS.WGS84)
