"""Geometry input (issue 17): every malformed GeoJSON an API field or an admin map receives is a
400 or a form error naming the field, never a 500 and never a stored empty or open shape."""

from __future__ import annotations

import json
import math

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from geo.forms import CheckedGeometryField
from geo.geojson import MAX_VERTICES, GeometryError, parse_geometry
from registry.models import Equipment
from tests.conftest import XINGQING


def nested_collection(depth: int) -> dict:
    geometry = {"type": "Point", "coordinates": [106.2, 38.4]}
    for _ in range(depth):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


LINE = {"type": "LineString", "coordinates": [[106.2, 38.4], [106.3, 38.5]]}
SQUARE = [[106.0, 38.0], [106.1, 38.0], [106.1, 38.1], [106.0, 38.1], [106.0, 38.0]]

BAD = {
    "not an object": ("[1, 2]", "geometry.type"),
    "unknown type": ({"type": "Circle", "coordinates": [1, 2]}, "geometry.type"),
    "not JSON": ("{type: Point", "geometry.json"),
    "JSON nested past the recursion limit": ("[" * 100_000, "geometry.json"),
    "coordinates a string": ({"type": "Point", "coordinates": "106,38"}, "geometry.position"),
    "NaN as a string": ({"type": "Point", "coordinates": ["NaN", 38]}, "geometry.position"),
    "NaN as JSON's extension": ('{"type": "Point", "coordinates": [NaN, 38]}', "geometry.finite"),
    "Infinity": ('{"type": "Point", "coordinates": [106, Infinity]}', "geometry.finite"),
    "a boolean coordinate": ({"type": "Point", "coordinates": [True, 38]}, "geometry.position"),
    "one number": ({"type": "Point", "coordinates": [106]}, "geometry.position"),
    "empty point": ({"type": "Point", "coordinates": []}, "geometry.empty"),
    "empty line": ({"type": "LineString", "coordinates": []}, "geometry.empty"),
    "empty polygon ring": ({"type": "Polygon", "coordinates": [[]]}, "geometry.empty"),
    "empty collection": ({"type": "GeometryCollection", "geometries": []}, "geometry.empty"),
    "one-point line": ({"type": "LineString", "coordinates": [[106, 38]]}, "geometry.line"),
    "unclosed ring": ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "geometry.ring_unclosed"),
    "ring of three": ({"type": "Polygon", "coordinates": [SQUARE[:2] + SQUARE[:1]]}, "geometry.ring"),
    "self-intersecting": (
        {"type": "Polygon", "coordinates": [[SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3], SQUARE[0]]]},
        "geometry.invalid",
    ),
    "longitude beyond 180": ({"type": "Point", "coordinates": [196.2, 38.4]}, "geometry.range"),
    "300-deep collection": (nested_collection(300), "geometry.depth"),
    "too many vertices": (
        {"type": "LineString", "coordinates": [[106, 38 + i * 1e-6] for i in range(MAX_VERTICES + 1)]},
        "geometry.vertices",
    ),
}  # fmt: skip


@pytest.mark.parametrize("value, rule", BAD.values(), ids=BAD.keys())
def test_a_bad_geometry_names_its_field_and_rule(value, rule):
    with pytest.raises(GeometryError) as caught:
        parse_geometry(value, "route")
    errors = caught.value.as_dict()
    assert list(errors) == ["route"]
    assert errors["route"][0]["rule"] == rule
    assert "/ " in errors["route"][0]["message"]  # 中文 / English


def test_a_type_not_asked_for_is_refused():
    with pytest.raises(GeometryError) as caught:
        parse_geometry({"type": "Polygon", "coordinates": [SQUARE]}, "route", kinds=["LineString"])
    assert caught.value.rule == "geometry.type"


@pytest.mark.parametrize(
    "value",
    [
        LINE,
        json.dumps(LINE),
        {"type": "Feature", "properties": {}, "geometry": LINE},
        {"type": "Polygon", "coordinates": [SQUARE]},
        nested_collection(2),
        {"type": "Point", "coordinates": [106.2, 38.4, 1100.0]},
    ],
    ids=["dict", "text", "feature", "polygon", "collection of a collection", "3D point"],
)
def test_a_good_geometry_is_read_in_2d_wgs84(value):
    geometry = parse_geometry(value, "route")
    assert geometry.srid == 4326 and geometry.valid and not geometry.empty
    assert not geometry.hasz


def test_web_mercator_metres_are_in_range_for_the_admin_map():
    point = {"type": "Point", "coordinates": [11_826_000.0, 4_640_000.0]}
    assert parse_geometry(point, "location", srid=3857).srid == 3857
    with pytest.raises(GeometryError):
        parse_geometry(point, "location")  # as WGS84 degrees it is far out of range


# --------------------------------------------------------------------------- the API


@pytest.fixture
def county(users) -> APIClient:
    client = APIClient()
    client.force_authenticate(users["xingqing"])
    return client


def register(county, make_unit, **fields):
    body = {"variety_code": "8100", "use_unit": make_unit(XINGQING).pk, **fields}
    return county.post("/api/equipment/", body, format="json")


ROUTE_CASES = {
    "NaN string": ({"type": "LineString", "coordinates": [["NaN", 38], [106, 38.1]]}, "geometry.position"),
    "wrong type for the field": ({"type": "Point", "coordinates": [106.2, 38.4]}, "geometry.type"),
    "a number": (5, "geometry.type"),
    "300-deep collection": (nested_collection(300), "geometry.type"),
    "empty array": ({"type": "LineString", "coordinates": []}, "geometry.empty"),
}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("route, rule", ROUTE_CASES.values(), ids=ROUTE_CASES.keys())
def test_a_bad_route_is_a_400_naming_it(county, make_unit, route, rule):
    response = register(county, make_unit, route=route)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"]["route"][0]["rule"] == rule
    assert not Equipment.objects.exists()


@pytest.mark.django_db
def test_a_body_nested_past_the_recursion_limit_is_a_400(county):
    response = county.post(
        "/api/equipment/", "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


@pytest.mark.django_db
def test_a_nan_longitude_is_a_400_naming_it(county, make_unit):
    response = register(county, make_unit, longitude="NaN", latitude=38.4, variety_code="3110")
    assert response.status_code == 400
    assert "longitude" in response.json()["errors"]


# --------------------------------------------------------------------------- the admin


def admin_field() -> CheckedGeometryField:
    from geo.widgets import OfflineMapWidget

    return CheckedGeometryField(srid=4326, geom_type="POINT", widget=OfflineMapWidget())


@pytest.mark.parametrize(
    "text, rule",
    [
        ('{"type": "Point", "coordinates": []}', "geometry.empty"),
        ('{"type": "Point", "coordinates": ["NaN", 1]}', "geometry.position"),
        (json.dumps(nested_collection(300)), "geometry.depth"),
        ("POINT EMPTY", "geometry.empty"),
        ("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "geometry.invalid"),
    ],
)
def test_the_admin_field_turns_a_bad_shape_into_a_form_error(text, rule):
    with pytest.raises(ValidationError) as caught:
        admin_field().clean(text)
    assert caught.value.code == rule


def test_the_admin_field_reads_the_maps_web_mercator_geojson():
    point = {"type": "Point", "coordinates": [11_826_000.0, 4_640_000.0]}
    geometry = admin_field().clean(json.dumps(point))
    assert geometry.srid == 4326  # moved from the map's projection to the column's
    # x / R in radians, as degrees: the inverse of Web Mercator's x = R·λ.
    assert geometry.x == pytest.approx(math.degrees(11_826_000.0 / 6_378_137.0))


@pytest.fixture
def admin_client(client, users):
    user = users["xingqing"]
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "location",
    ['{"type": "Point", "coordinates": []}', '{"type":"GeometryCollection","geometries":[]}'],
)
def test_the_equipment_admin_shows_an_empty_location_as_a_form_error(
    admin_client, make_unit, location
):
    unit = make_unit(XINGQING)
    form = {
        "variety": "3110",
        "device_code": "3110T1234202100001",
        "location": location,
        "address": "测试路1号",
        "use_unit": str(unit.pk),
        "commissioned_on": "2024-01-01",
        "params": "{}",
    }
    response = admin_client.post("/admin/registry/equipment/add/", form)
    assert response.status_code == 200
    assert "location" in response.context["adminform"].form.errors
    assert not Equipment.objects.exists()
