"""Region outlines simplified once and stored (geo.outlines): the stored text is what simplifying
on the spot gives, a second read simplifies nothing, and a boundary change drops the old outline."""

import pytest
from django.contrib.gis.db.models.functions import AsGeoJSON, PointOnSurface
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection

from geo.basemap import outline_tolerance
from geo.functions import SimplifyPreserveTopology
from geo.models import Region, RegionOutline
from geo.outlines import outlines

pytestmark = pytest.mark.django_db

NINGXIA_CITIES = Region.objects.filter(
    code__startswith="64", level="city"
)  # a fresh clone each use


def simplified_on_the_spot(regions, tolerance):
    shape = SimplifyPreserveTopology("boundary", tolerance)
    return list(
        regions.annotate(outline=AsGeoJSON(shape, precision=5), label=PointOnSurface(shape))
        .values_list("code", "name", "level", "outline", "label")
        .order_by("code")
    )


def test_stored_outlines_are_the_simplified_boundaries():
    tolerance = outline_tolerance("64")
    expected = simplified_on_the_spot(NINGXIA_CITIES, tolerance)
    assert len(expected) == 5
    for got in (outlines(NINGXIA_CITIES, tolerance), outlines(NINGXIA_CITIES, tolerance)):
        assert [row[:4] for row in got] == [row[:4] for row in expected]
        assert [row[4].coords for row in got] == [row[4].coords for row in expected]
    assert RegionOutline.objects.filter(tolerance=tolerance).count() == 5
    # Simplified: fewer vertices than the boundary, and still a polygon.
    for code, _, _, text, _ in expected:
        shape = GEOSGeometry(text)
        assert shape.geom_type in ("Polygon", "MultiPolygon") and shape.valid
        assert shape.num_points < Region.objects.get(code=code).boundary.num_points


def test_a_second_read_is_one_statement_and_simplifies_nothing(django_assert_num_queries):
    tolerance = outline_tolerance("64")
    outlines(NINGXIA_CITIES, tolerance)
    with django_assert_num_queries(1) as captured:
        outlines(NINGXIA_CITIES, tolerance)
    assert "simplify" not in captured.captured_queries[0]["sql"].lower()


def test_each_tolerance_is_kept_apart():
    coarse, fine = outlines(NINGXIA_CITIES, 0.01), outlines(NINGXIA_CITIES, 0.0002)
    assert [r[3] for r in coarse] == [r[3] for r in simplified_on_the_spot(NINGXIA_CITIES, 0.01)]
    assert [r[3] for r in fine] == [r[3] for r in simplified_on_the_spot(NINGXIA_CITIES, 0.0002)]
    assert all(len(c[3]) < len(f[3]) for c, f in zip(coarse, fine, strict=True))
    assert RegionOutline.objects.filter(region__code__startswith="64").count() == 10


def test_a_changed_boundary_drops_its_outlines_and_the_next_read_draws_the_new_one():
    tolerance = outline_tolerance("64")
    outlines(NINGXIA_CITIES, tolerance)
    city = Region.objects.get(code="640500")
    # Saving the same boundary (a reload of the same file) keeps the outline.
    city.save()
    assert RegionOutline.objects.filter(region=city).count() == 1
    square = Polygon.from_bbox((105.0, 37.0, 105.5, 37.5))
    city.boundary = MultiPolygon(square, srid=4326)
    city.save()
    assert not RegionOutline.objects.filter(region=city).exists()
    assert RegionOutline.objects.filter(region__in=NINGXIA_CITIES).count() == 4
    row = next(r for r in outlines(NINGXIA_CITIES, tolerance) if r[0] == "640500")
    drawn = GEOSGeometry(row[3])
    assert (drawn.extent, drawn.num_points) == ((105.0, 37.0, 105.5, 37.5), 5)


def test_a_boundary_changed_by_a_statement_drops_its_outlines_too():
    outlines(NINGXIA_CITIES, 0.01)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE geo_region SET boundary = ST_Multi(ST_Buffer(boundary, 0.001)) "
            "WHERE code = '640100'"
        )
    assert sorted(RegionOutline.objects.values_list("region_id", flat=True)) == [
        "640200",
        "640300",
        "640400",
        "640500",
    ]
