"""The registry of offered coordinate systems: every entry checked against PROJ's own definition
of its EPSG code (pyproj), each surface's set written out, and the one parser per surface."""

from __future__ import annotations

import pytest
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from geo import crs
from geo.crs import CRS84, REGISTRY, Surface, UnknownCRS, epsg_uri

CODED = [offered for offered in REGISTRY.values() if offered.epsg is not None]


@pytest.mark.parametrize("offered", CODED, ids=lambda o: o.name)
def test_axis_order_and_units_are_projs(offered):
    proj = ProjCRS.from_user_input("OGC:CRS84" if offered.uri == CRS84 else offered.epsg)
    assert offered.northing_first == (proj.axis_info[0].direction == "north")
    assert offered.geographic == proj.is_geographic


@pytest.mark.parametrize("offered", [o for o in CODED if o.zone], ids=lambda o: o.name)
def test_gauss_kruger_zones_are_the_zone_prefixed_family(offered):
    name = ProjCRS.from_epsg(offered.epsg).name
    assert name == f"CGCS2000 / 3-degree Gauss-Kruger zone {offered.zone}"
    assert offered.label == f"CGCS2000-GK{offered.zone}"


def test_gcj02_and_bd09_have_no_code_and_no_uri():
    for name in ("gcj02", "bd09"):
        assert REGISTRY[name].epsg is None and REGISTRY[name].uri is None
        assert REGISTRY[name].srid == 4326  # labelled so, never stored


ZONES = [f"gk{zone}" for zone in range(25, 46)]


@pytest.mark.parametrize(
    "surface, names",
    [
        (Surface.IMPORT, ["wgs84", "cgcs2000", "gcj02", "bd09"]),
        (Surface.RESPONSE, ["wgs84", "cgcs2000", "gcj02", "bd09"]),
        (Surface.EXPORT, ["wgs84", "cgcs2000", "webmercator", "gcj02", *ZONES]),
        (Surface.OGC, ["crs84", "wgs84", "cgcs2000", "webmercator", *ZONES]),
    ],
)
def test_each_surface_offers_its_set(surface, names):
    assert list(crs.offered_on(surface)) == names


@pytest.mark.parametrize(
    "value, surface, name",
    [
        ("GCJ-02", Surface.IMPORT, "gcj02"),
        ("BD09LL", Surface.RESPONSE, "bd09"),
        ("CRS84", Surface.RESPONSE, "wgs84"),  # by name, OGC's lon/lat WGS84 is wgs84
        ("EPSG:4523", Surface.EXPORT, "gk35"),
        ("urn:ogc:def:crs:EPSG::4490", Surface.EXPORT, "cgcs2000"),
        (4513, Surface.EXPORT, "gk25"),
        (f" {epsg_uri(4326)} ", Surface.OGC, "wgs84"),
        (CRS84, Surface.OGC, "crs84"),
        (epsg_uri(4533), Surface.OGC, "gk45"),
    ],
)
def test_parse_reads_a_surfaces_system(value, surface, name):
    assert crs.parse(value, surface).name == name


@pytest.mark.parametrize(
    "value, surface, hint",
    [
        ("bd09", Surface.EXPORT, " (BD-09 is not offered for export)"),
        ("webmercator", Surface.RESPONSE, " (WebMercator is not offered for response)"),
        ("gk35", Surface.IMPORT, " (CGCS2000-GK35 is not offered for import)"),
        ("gk46", Surface.EXPORT, " (zones 25–45)"),
        ("EPSG:4544", Surface.EXPORT, " (the CM family without zone prefix is not offered: use gk25 … gk45)"),
        ("EPSG:4326", Surface.OGC, ""),  # OGC API takes the advertised URIs only
        ("gcj02", Surface.OGC, ""),
        ("+proj=longlat", Surface.EXPORT, ""),
        ("4" * 65, Surface.EXPORT, ""),
        (True, Surface.IMPORT, ""),
        (None, Surface.RESPONSE, ""),
    ],
)  # fmt: skip
def test_parse_refuses_what_a_surface_does_not_offer(value, surface, hint):
    with pytest.raises(UnknownCRS) as refused:
        crs.parse(value, surface)
    assert refused.value.hint == hint


@pytest.mark.parametrize("offered", list(REGISTRY.values()), ids=lambda o: o.name)
def test_the_system_parser_agrees_with_the_registry(offered):
    if offered.zone is not None:
        with pytest.raises(UnknownCRS):  # metres of a zone are no datum to convert from
            crs.CRS.parse(offered.name)
    elif offered.uri != CRS84:
        assert crs.CRS.parse(offered.name) is offered.system


@pytest.mark.parametrize("name", ["webmercator", "gk35", "cgcs2000"])
def test_from_and_to_wgs84_are_projs(name):
    offered = REGISTRY[name]
    lon, lat = 106.27, 38.47  # 银川
    x, y = offered.from_wgs84(lon, lat)
    expected = Transformer.from_crs(4490, offered.epsg, always_xy=True).transform(lon, lat)
    assert (x, y) == pytest.approx(expected, abs=1e-3 if not offered.geographic else 1e-9)
    assert offered.to_wgs84(x, y) == pytest.approx((lon, lat), abs=1e-9)


def test_titles_name_the_system_in_both_languages():
    assert REGISTRY["gcj02"].title == "GCJ-02（高德、腾讯 / Amap, Tencent）"
    assert REGISTRY["wgs84"].title == "WGS84（GPS 原始坐标 / GPS）"
