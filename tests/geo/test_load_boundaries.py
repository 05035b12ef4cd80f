"""load_boundaries on tiny files: GeoJSON, GeoPackage and Shapefile; upserts; CRS; refusals; repairs.

The test regions use the Taiwan prefix 71, which the session never loads, and sit in the East China
Sea (inside the GCJ-02 box, so the offset applies there).
"""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
from pathlib import Path

import prcoords
import pytest
from django.contrib.gis.geos import Point, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError

from geo import crs
from geo.models import Level, Region

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data"
SQUARES = DATA / "boundaries_71.geojson"
FIELDS = {"code_field": "adcode", "name_field": "name_zh"}

# The squares of boundaries_71.geojson, written out again: code → (name, west, south, east, north).
EXPECTED = {
    "710000": ("测试省", 123.0, 26.0, 125.0, 28.0),
    "710100": ("测试市", 123.5, 26.5, 124.5, 27.5),
    "710101": ("测试区", 123.75, 26.75, 124.25, 27.25),
}
needs_ogr2ogr = pytest.mark.skipif(
    shutil.which("ogr2ogr") is None, reason="needs gdal-bin's ogr2ogr"
)


def load(path: Path, **options) -> str:
    out = io.StringIO()
    call_command("load_boundaries", str(path), verbosity=0, stdout=out, **{**FIELDS, **options})
    return out.getvalue().strip()


def ogr2ogr(target: Path, source: Path, *args: str) -> Path:
    driver = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON"}[target.suffix]
    subprocess.run(
        ["ogr2ogr", "-f", driver, *args, str(target), str(source)], check=True, capture_output=True
    )
    return target


def loaded_71() -> dict[str, Region]:
    return {r.code: r for r in Region.objects.filter(code__startswith="71")}


@pytest.fixture(params=["geojson", "gpkg", "shp-utf8", "shp-gbk"])
def squares_file(request, tmp_path) -> Path:
    if request.param == "geojson":
        return SQUARES
    if shutil.which("ogr2ogr") is None:
        pytest.skip("needs gdal-bin's ogr2ogr")
    if request.param == "gpkg":
        return ogr2ogr(tmp_path / "squares.gpkg", SQUARES)
    # Shapefiles from Chinese sources come in UTF-8 or GBK (code page 936), named in the .cpg file.
    encoding = {"shp-utf8": "UTF-8", "shp-gbk": "CP936"}[request.param]
    return ogr2ogr(tmp_path / "squares.shp", SQUARES, "-lco", f"ENCODING={encoding}")


def test_loads_every_format_with_codes_names_levels_and_boundaries(squares_file):
    assert load(squares_file) == "regions: 3 created, 0 updated"
    regions = loaded_71()
    assert set(regions) == set(EXPECTED)
    for code, (name, west, south, east, north) in EXPECTED.items():
        region = regions[code]
        assert region.name == name
        assert region.boundary.geom_type == "MultiPolygon" and region.boundary.srid == 4326
        assert region.boundary.extent == pytest.approx((west, south, east, north), abs=1e-12)
        assert region.boundary.area == pytest.approx((east - west) * (north - south), rel=1e-12)
        assert region.source == squares_file.name


def test_levels_and_parents_follow_the_codes():
    load(SQUARES)
    regions = loaded_71()
    assert [(regions[c].level, regions[c].parent_id) for c in sorted(regions)] == [
        (Level.PROVINCE, None),
        (Level.CITY, "710000"),
        (Level.COUNTY, "710100"),
    ]


def test_loaded_county_locates_points():
    load(SQUARES)
    assert Region.locate(Point(124.0, 27.0, srid=4326)).code == "710101"
    assert Region.locate(Point(123.6, 26.6, srid=4326)) is None  # in the city but in no county


def test_loading_twice_updates_in_place():
    load(SQUARES)
    total = Region.objects.count()
    assert load(SQUARES) == "regions: 0 created, 3 updated"
    assert Region.objects.count() == total


def test_reloading_replaces_the_boundary(tmp_path):
    load(SQUARES)
    data = json.loads(SQUARES.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["adcode"] == "710101"]
    data["features"][0]["properties"]["name_zh"] = "改名区"
    data["features"][0]["geometry"]["coordinates"] = [
        [[124.0, 27.0], [124.1, 27.0], [124.1, 27.1], [124.0, 27.1], [124.0, 27.0]]
    ]
    changed = tmp_path / "changed.geojson"
    changed.write_text(json.dumps(data), encoding="utf-8")
    assert load(changed) == "regions: 0 created, 1 updated"
    county = Region.objects.get(code="710101")
    assert county.name == "改名区"
    assert county.boundary.area == pytest.approx(0.01, rel=1e-9)
    assert Region.objects.get(code="710100").name == "测试市"  # the others are left alone


def test_session_regions_are_untouched_by_a_load():
    before = {
        r.code: (r.name, r.boundary.wkb.hex())
        for r in Region.objects.exclude(code__startswith="71")
    }
    load(SQUARES)
    after = {
        r.code: (r.name, r.boundary.wkb.hex())
        for r in Region.objects.exclude(code__startswith="71")
    }
    assert after == before


# --- coordinate systems -------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["gcj02", "bd09"])
def test_obfuscated_boundaries_are_converted_vertex_by_vertex(source):
    load(SQUARES, source_crs=source)
    county = Region.objects.get(code="710101")
    [[ring]] = county.boundary.coords
    _, west, south, east, north = EXPECTED["710101"]
    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    # The loader may orient rings either way: compare as sets of corners.
    stored = {(round(x, 9), round(y, 9)) for x, y in ring}
    converted = {
        tuple(round(v, 9) for v in crs.to_wgs84(x, y, crs.CRS(source))) for x, y in corners
    }
    assert stored == converted
    assert all(
        math.dist(c, p) > 1e-3 for c, p in zip(sorted(stored), sorted(set(corners)), strict=True)
    )


def test_gcj02_conversion_agrees_with_prcoords():
    load(SQUARES, source_crs="gcj02")
    [[ring]] = Region.objects.get(code="710000").boundary.coords
    stored = sorted((round(x, 6), round(y, 6)) for x, y in ring[:-1])
    corners = [(123.0, 26.0), (125.0, 26.0), (125.0, 28.0), (123.0, 28.0)]
    # prcoords takes (lat, lon); its precise inverse agrees with ours far below a metre.
    reference = sorted(
        (round(p.lon, 6), round(p.lat, 6))
        for p in (prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon)) for lon, lat in corners)
    )
    assert stored == reference


def test_cgcs2000_is_stored_as_is():
    load(SQUARES, source_crs="cgcs2000")
    assert Region.objects.get(code="710101").boundary.extent == pytest.approx(
        EXPECTED["710101"][1:], abs=1e-12
    )


@needs_ogr2ogr
def test_web_mercator_geopackage_is_converted(tmp_path):
    mercator = ogr2ogr(
        tmp_path / "mercator.gpkg", SQUARES, "-s_srs", "EPSG:4326", "-t_srs", "EPSG:3857"
    )
    load(mercator, source_crs="webmercator")
    assert Region.objects.get(code="710101").boundary.extent == pytest.approx(
        EXPECTED["710101"][1:], abs=1e-9
    )


@needs_ogr2ogr
def test_shapefile_without_prj_is_read_in_the_declared_crs(tmp_path):
    mercator = ogr2ogr(
        tmp_path / "mercator.shp", SQUARES, "-s_srs", "EPSG:4326", "-t_srs", "EPSG:3857"
    )
    mercator.with_suffix(".prj").unlink()
    load(mercator, source_crs="webmercator")
    assert Region.objects.get(code="710101").boundary.extent == pytest.approx(
        EXPECTED["710101"][1:], abs=1e-9
    )


@needs_ogr2ogr
def test_file_crs_contradicting_the_declared_one_is_refused(tmp_path):
    mercator = ogr2ogr(
        tmp_path / "mercator.gpkg", SQUARES, "-s_srs", "EPSG:4326", "-t_srs", "EPSG:3857"
    )
    with pytest.raises(CommandError, match="3857"):
        load(mercator)  # declared wgs84 (the default), but the file says 3857
    assert not Region.objects.filter(code__startswith="71").exists()


def test_unknown_crs_is_refused():
    with pytest.raises(CommandError, match="Unknown coordinate system"):
        load(SQUARES, source_crs="+proj=longlat +datum=WGS84")
    assert not Region.objects.filter(code__startswith="71").exists()


# --- refusals: a clear message and nothing saved --------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"code_field": "code"}, "no field code"),
        ({"name_field": "名称"}, "no field 名称"),
    ],
)
def test_missing_field_is_refused_naming_it(options, message):
    with pytest.raises(CommandError, match=message) as caught:
        load(SQUARES, **options)
    assert "adcode" in str(caught.value)  # and says which fields there are
    assert not Region.objects.filter(code__startswith="71").exists()


def test_non_six_digit_code_is_refused_and_nothing_is_saved():
    with pytest.raises(CommandError) as caught:
        load(DATA / "bad_code_71.geojson")
    assert "'7101'" in str(caught.value) and "6-digit" in str(caught.value)
    assert not Region.objects.filter(code__startswith="71").exists()


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        load(tmp_path / "nowhere.geojson")


# --- repairs ----------------------------------------------------------------------------------------


def test_self_intersecting_polygon_is_made_valid():
    bowtie = Polygon(((123, 26), (124, 27), (124, 26), (123, 27), (123, 26)), srid=4326)
    assert not bowtie.valid
    load(DATA / "bowtie_71.geojson")
    boundary = Region.objects.get(code="710102").boundary
    assert boundary.valid and boundary.geom_type == "MultiPolygon"
    # Two triangles meeting at the crossing (123.5, 26.5), each half of a 1 × 0.5 rectangle.
    left = Polygon(((123, 26), (123.5, 26.5), (123, 27), (123, 26)), srid=4326)
    right = Polygon(((124, 26), (124, 27), (123.5, 26.5), (124, 26)), srid=4326)
    assert len(boundary) == 2
    assert boundary.area == pytest.approx(left.area + right.area) == pytest.approx(0.5)
    assert boundary.sym_difference(left.union(right)).area < 1e-12
