"""geo.crs against independent references: prcoords (GCJ-02/BD-09) and PROJ (EPSG systems)."""

import math
import warnings
from itertools import permutations

import numpy as np
import prcoords
import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer

from geo import crs
from geo.crs import CRS, CRSMismatch, UnknownCRS

N_POINTS = 5000
N_REFERENCE = 2000  # prcoords is per point in pure Python: keep it quick
CENTIMETRE = 0.01
GEOD = Geod(ellps="WGS84")
# Independent of geo.crs, to measure errors of Web Mercator coordinates on the ground.
MERCATOR_TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)
TIANANMEN = (116.391275, 39.907217)
OUTSIDE_CHINA = {
    "tokyo": (139.6917, 35.6895),
    "london": (-0.1276, 51.5072),
    "new_york": (-74.006, 40.7128),
    "sydney": (151.2093, -33.8688),
    "moscow": (37.6173, 55.7558),
    "null_island": (0.0, 0.0),
}


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points over China's extent, ≥ 1.5° inside the box so no offset crosses its edge."""
    rng = np.random.default_rng(20240607)
    return rng.uniform(73.5, 135.1, N_POINTS), rng.uniform(3.8, 53.6, N_POINTS)


@pytest.fixture(scope="module")
def reference_points(china_points) -> list[tuple[float, float]]:
    lon, lat = china_points
    return list(zip(lon[:N_REFERENCE].tolist(), lat[:N_REFERENCE].tolist(), strict=True))


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between lon/lat points (arrays or floats)."""
    _, _, distance = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(distance)


def ground_error(system: CRS, x1, y1, x2, y2) -> np.ndarray:
    """Distance on the ground between two points given in ``system``."""
    if system == CRS.WEB_MERCATOR:
        x1, y1 = MERCATOR_TO_LONLAT.transform(x1, y1)
        x2, y2 = MERCATOR_TO_LONLAT.transform(x2, y2)
    # GCJ-02/BD-09 degrees are shifted WGS84 degrees: measuring them on WGS84 is exact enough.
    return metres(x1, y1, x2, y2)


def as_arrays(pairs) -> tuple[np.ndarray, np.ndarray]:
    """prcoords Coords (lat, lon) → lon, lat arrays."""
    lat, lon = np.array(pairs, dtype=np.float64).T
    return lon, lat


def vertices(geom) -> np.ndarray:
    """Every vertex of a GEOS geometry as an (n, 2|3) array, read through GEOS' own coords."""

    def flatten(coords):
        if isinstance(coords[0], float | int):
            yield coords
        else:
            for part in coords:
                yield from flatten(part)

    return np.array(list(flatten(geom.coords)), dtype=np.float64)


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), list(permutations(CRS, 2)))
def test_round_trip_is_within_a_centimetre(china_points, source, target):
    lon, lat = crs.from_wgs84(*china_points, source)
    there = crs.convert(lon, lat, source, target)
    back = crs.convert(*there, target, source)
    assert ground_error(source, lon, lat, *back).max() < CENTIMETRE


@pytest.mark.parametrize("system", list(CRS))
def test_to_and_from_wgs84_are_inverse(china_points, system):
    lon, lat = china_points
    back = crs.to_wgs84(*crs.from_wgs84(lon, lat, system), system)
    assert metres(lon, lat, *back).max() < CENTIMETRE


# --- agreement with prcoords -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (crs.wgs84_to_gcj02, prcoords.wgs_gcj),
        (crs.gcj02_to_bd09, prcoords.gcj_bd),
        (crs.wgs84_to_bd09, prcoords.wgs_bd),
    ],
)
def test_forward_matches_prcoords(reference_points, ours, theirs):
    lon, lat = np.array(reference_points).T
    expected_lon, expected_lat = as_arrays([theirs((y, x)) for x, y in reference_points])
    got_lon, got_lat = ours(lon, lat)
    assert np.abs(got_lon - expected_lon).max() < 1e-9
    assert np.abs(got_lat - expected_lat).max() < 1e-9


@pytest.mark.parametrize(
    ("forward", "ours", "precise"),
    [
        (prcoords.wgs_gcj, crs.gcj02_to_wgs84, prcoords.gcj_wgs_bored),
        (prcoords.gcj_bd, crs.bd09_to_gcj02, prcoords.bd_gcj_bored),
        (prcoords.wgs_bd, crs.bd09_to_wgs84, prcoords.bd_wgs_bored),
    ],
)
def test_inverse_is_at_least_as_accurate_as_prcoords(reference_points, forward, ours, precise):
    # The obfuscated points come from prcoords, so the truth is known independently.
    obfuscated = [forward((y, x)) for x, y in reference_points]
    true_lon, true_lat = np.array(reference_points).T
    their_lon, their_lat = as_arrays([precise(c) for c in obfuscated])
    our_lon, our_lat = ours(*as_arrays(obfuscated))

    our_error = metres(true_lon, true_lat, our_lon, our_lat)
    their_error = metres(true_lon, true_lat, their_lon, their_lat)
    assert our_error.max() < CENTIMETRE
    assert our_error.max() <= their_error.max()


def test_in_china_bbox_matches_prcoords_at_the_edges():
    lon, lat = [], []
    for edge in (72.004, 137.8347):  # on each edge and one float step either side
        for x in (np.nextafter(edge, -np.inf), edge, np.nextafter(edge, np.inf)):
            lon.append(x)
            lat.append(30.0)
    for edge in (0.8293, 55.8271):
        for y in (np.nextafter(edge, -np.inf), edge, np.nextafter(edge, np.inf)):
            lon.append(100.0)
            lat.append(y)
    expected = [
        prcoords.sanity_in_china_p(prcoords.Coords(y, x)) for x, y in zip(lon, lat, strict=True)
    ]
    assert crs.in_china_bbox(np.array(lon), np.array(lat)).tolist() == expected
    assert expected.count(True) == 8  # both ends inclusive
    assert crs.in_china_bbox(*TIANANMEN) is True
    assert crs.in_china_bbox(*OUTSIDE_CHINA["tokyo"]) is False
    assert crs.in_china_bbox(float("nan"), 39.0) is False


# --- known values --------------------------------------------------------------------------


def test_tiananmen_to_gcj02_agrees_with_prcoords():
    expected = prcoords.wgs_gcj((TIANANMEN[1], TIANANMEN[0]))
    lon, lat = crs.wgs84_to_gcj02(*TIANANMEN)
    assert lon == pytest.approx(expected.lon, abs=1e-9)
    assert lat == pytest.approx(expected.lat, abs=1e-9)
    # GCJ-02 offsets are hundreds of metres.
    assert 100 < metres(*TIANANMEN, lon, lat) < 1000


def test_web_mercator_of_the_antimeridian_on_the_equator():
    x, y = crs.from_wgs84(180.0, 0.0, CRS.WEB_MERCATOR)
    assert x == pytest.approx(math.pi * 6378137.0, abs=1e-6)  # 20037508.34
    assert y == pytest.approx(0.0, abs=1e-6)
    assert crs.to_wgs84(x, y, CRS.WEB_MERCATOR) == pytest.approx((180.0, 0.0), abs=1e-9)


def test_proj_applies_no_shift_between_cgcs2000_and_wgs84(china_points):
    lon, lat = china_points
    proj_lon, proj_lat = Transformer.from_crs(4490, 4326, always_xy=True).transform(lon, lat)
    assert np.array_equal(proj_lon, lon)
    assert np.array_equal(proj_lat, lat)
    ours = crs.convert(lon, lat, CRS.CGCS2000, CRS.WGS84)
    assert np.array_equal(ours[0], lon)
    assert np.array_equal(ours[1], lat)


def test_web_mercator_matches_proj(china_points):
    lon, lat = china_points
    expected = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    got = crs.from_wgs84(lon, lat, CRS.WEB_MERCATOR)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


# --- outside China -------------------------------------------------------------------------


@pytest.mark.parametrize("system", [CRS.GCJ02, CRS.BD09])
@pytest.mark.parametrize("point", OUTSIDE_CHINA.values(), ids=OUTSIDE_CHINA.keys())
def test_points_outside_china_are_unchanged(point, system):
    assert crs.from_wgs84(*point, system) == point
    assert crs.to_wgs84(*point, system) == point


@pytest.mark.parametrize("system", [CRS.GCJ02, CRS.BD09])
def test_mixed_array_shifts_only_points_in_china(system):
    outside_lon, outside_lat = np.array(list(OUTSIDE_CHINA.values())).T
    lon = np.concatenate([outside_lon, [TIANANMEN[0], np.nan]])
    lat = np.concatenate([outside_lat, [TIANANMEN[1], 39.0]])
    got_lon, got_lat = crs.from_wgs84(lon, lat, system)
    n = len(OUTSIDE_CHINA)
    assert np.array_equal(got_lon[:n], outside_lon)
    assert np.array_equal(got_lat[:n], outside_lat)
    assert (got_lon[n], got_lat[n]) == pytest.approx(crs.from_wgs84(*TIANANMEN, system))
    assert np.isnan(got_lon[n + 1])


# --- why the inverse iterates --------------------------------------------------------------


def test_one_step_inverse_is_off_by_metres_but_ours_is_not(china_points):
    lon, lat = china_points
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, lat)
    # The naive inverse subtracts the offset evaluated at the GCJ-02 point instead of the true one.
    shifted_lon, shifted_lat = crs.wgs84_to_gcj02(gcj_lon, gcj_lat)
    naive_lon, naive_lat = 2 * gcj_lon - shifted_lon, 2 * gcj_lat - shifted_lat
    assert metres(lon, lat, naive_lon, naive_lat).max() > 0.5
    assert metres(lon, lat, *crs.gcj02_to_wgs84(gcj_lon, gcj_lat)).max() < CENTIMETRE


# --- input and output kinds ----------------------------------------------------------------


def test_floats_in_floats_out():
    lon, lat = crs.convert(116, 39, CRS.WGS84, CRS.BD09)
    assert type(lon) is float and type(lat) is float


def test_arrays_keep_their_shape_and_are_not_modified():
    lon = np.full((3, 4), 116.0)
    lat = np.full((3, 4), 39.0)
    got_lon, got_lat = crs.convert(lon, lat, CRS.GCJ02, CRS.WGS84)
    assert got_lon.shape == got_lat.shape == (3, 4)
    assert (lon == 116.0).all() and (lat == 39.0).all()
    assert got_lon[2, 3] == pytest.approx(crs.gcj02_to_wgs84(116.0, 39.0)[0], abs=1e-12)


# --- parse ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("wgs84", CRS.WGS84),
        ("WGS-84", CRS.WGS84),
        ("4326", CRS.WGS84),
        (4326, CRS.WGS84),
        ("EPSG:4326", CRS.WGS84),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", CRS.WGS84),
        ("epsg:4490", CRS.CGCS2000),
        ("CGCS2000", CRS.CGCS2000),
        ("urn:ogc:def:crs:EPSG::4490", CRS.CGCS2000),
        ("3857", CRS.WEB_MERCATOR),
        (" Web Mercator ", CRS.WEB_MERCATOR),
        ("gcj-02", CRS.GCJ02),
        ("GCJ02", CRS.GCJ02),
        ("bd-09", CRS.BD09),
        ("BD09LL", CRS.BD09),
        (CRS.BD09, CRS.BD09),
    ],
)
def test_parse_accepts_aliases(given, expected):
    assert CRS.parse(given) is expected


@pytest.mark.parametrize(
    "given", ["EPSG:9999", "+proj=longlat", "", "   ", "bd09mc", "4326x", None, True, 4490.0]
)
def test_parse_rejects_anything_else(given):
    with pytest.raises(UnknownCRS, match="wgs84, cgcs2000, webmercator, gcj02, bd09"):
        CRS.parse(given)


def test_convert_rejects_unknown_crs_names():
    with pytest.raises(UnknownCRS):
        crs.convert(116.0, 39.0, "+proj=merc", CRS.WGS84)


# --- geometries ----------------------------------------------------------------------------


def chengdu_polygon(srid=None) -> Polygon:
    shell = ((103.9, 30.5), (104.2, 30.5), (104.2, 30.8), (103.9, 30.8), (103.9, 30.5))
    hole = ((104.0, 30.6), (104.1, 30.6), (104.1, 30.7), (104.0, 30.6))
    return Polygon(shell, hole, srid=srid)


def two_city_multipolygon(srid=None) -> MultiPolygon:
    shanghai = Polygon(((121.3, 31.1), (121.6, 31.1), (121.5, 31.3), (121.3, 31.1)))
    urumqi = Polygon(((87.5, 43.7), (87.7, 43.7), (87.7, 43.9), (87.5, 43.9), (87.5, 43.7)))
    return MultiPolygon(shanghai, urumqi, srid=srid)


@pytest.mark.parametrize("make", [chengdu_polygon, two_city_multipolygon])
@pytest.mark.parametrize(("source", "target"), list(permutations(CRS, 2)))
def test_transform_geometry_matches_pointwise_conversion(make, source, target):
    geom = make()
    before = geom.wkt
    moved = crs.transform_geometry(geom, source, target)

    assert moved.geom_type == geom.geom_type
    assert moved.num_coords == geom.num_coords
    assert moved.srid == crs.srid_for(target)
    expected = vertices(geom)
    np.testing.assert_array_equal(
        vertices(moved), np.column_stack(crs.convert(*expected.T, source, target))
    )
    assert geom.wkt == before and geom.srid is None  # the input is left alone


@pytest.mark.parametrize(
    ("target", "srid"),
    [
        (CRS.WGS84, 4326),
        (CRS.CGCS2000, 4490),
        (CRS.WEB_MERCATOR, 3857),
        (CRS.GCJ02, 4326),
        (CRS.BD09, 4326),
    ],
)
def test_transform_geometry_labels_the_target_srid(target, srid):
    assert crs.transform_geometry(chengdu_polygon(4326), CRS.WGS84, target).srid == srid


def test_transform_geometry_keeps_z():
    moved = crs.transform_geometry(Point(116.0, 39.0, 43.5), CRS.GCJ02, CRS.WGS84)
    assert moved.hasz and moved.z == 43.5
    assert (moved.x, moved.y) == crs.gcj02_to_wgs84(116.0, 39.0)


@pytest.mark.parametrize("source", list(CRS))
def test_to_storage_gives_srid_4326(source):
    geom = crs.transform_geometry(two_city_multipolygon(), CRS.WGS84, source)
    stored = crs.to_storage(geom, source)
    assert stored.srid == 4326
    original = vertices(two_city_multipolygon())
    assert metres(*vertices(stored).T, *original.T).max() < CENTIMETRE


def test_to_storage_keeps_cgcs2000_coordinates_as_they_are():
    geom = chengdu_polygon(4490)
    stored = crs.to_storage(geom, CRS.CGCS2000)
    assert stored.srid == 4326
    assert np.array_equal(vertices(stored), vertices(geom))
    assert geom.srid == 4490


def test_to_storage_refuses_a_geometry_labelled_with_another_srid():
    with pytest.raises(CRSMismatch, match="SRID 3857"):
        crs.to_storage(chengdu_polygon(3857))


def test_prcoords_warnings_do_not_leak():
    # prcoords warns on points outside China; ours stays silent.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crs.wgs84_to_gcj02(*OUTSIDE_CHINA["tokyo"])


# --- CGCS2000 Gauss-Krüger zones -------------------------------------------------------------


@pytest.mark.parametrize("zone", list(crs.GAUSS_KRUGER_ZONES))
def test_gauss_kruger_codes_name_their_zone(zone):
    system = ProjCRS.from_epsg(crs.gauss_kruger_epsg(zone))
    assert system.name == f"CGCS2000 / 3-degree Gauss-Kruger zone {zone}"
    params = {p.name: p.value for p in system.coordinate_operation.params}
    assert params["Longitude of natural origin"] == 3 * zone
    assert params["False easting"] == zone * 1_000_000 + 500_000


@pytest.mark.parametrize("zone", [24, 46, "35", True, 35.0])
def test_gauss_kruger_zones_outside_the_list_are_refused(zone):
    with pytest.raises(UnknownCRS):
        crs.gauss_kruger_epsg(zone)


@pytest.mark.parametrize(
    "lon, zone", [(106.2, 35), (106.49, 35), (106.51, 36), (73.5, 25), (135.05, 45), (60.0, 25)]
)
def test_gauss_kruger_zone_has_the_nearest_central_meridian(lon, zone):
    assert crs.gauss_kruger_zone(lon) == zone


def test_gauss_kruger_matches_pyproj_and_round_trips(china_points):
    lon, lat = china_points
    zone = 35
    near = np.abs(lon - 105) < 1.5
    x, y = crs.to_gauss_kruger(lon[near], lat[near], zone)
    ex, ey = Transformer.from_crs(4490, 4523, always_xy=True).transform(lon[near], lat[near])
    assert np.allclose(x, ex, atol=1e-6) and np.allclose(y, ey, atol=1e-6)
    back_lon, back_lat = crs.from_gauss_kruger(x, y, zone)
    assert metres(lon[near], lat[near], back_lon, back_lat).max() < 1e-6
    assert crs.to_gauss_kruger(105.0, 0.0, zone) == pytest.approx((35_500_000.0, 0.0), abs=1e-6)
