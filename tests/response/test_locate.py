"""Locating an incident, every way: coordinates in each accepted system, a click, a code, a unit."""

from __future__ import annotations

import datetime as dt

import prcoords
import pytest

from registry.synthetic.codes import certificate_number, registration_code
from response.exceptions import ResponseError
from response.locate import locate
from response.models import LocatedBy
from tests.conftest import XINGQING, XIXIA, inside
from tests.response.conftest import metres, scatter

pytestmark = pytest.mark.django_db


def rule_of(error: ResponseError) -> tuple[str, str]:
    [finding] = error.findings
    return finding.field, finding.rule


def refused(user, **params) -> ResponseError:
    with pytest.raises(ResponseError) as caught:
        locate(user, params)
    return caught.value


def test_wgs84_coordinates_come_back_as_given_with_their_county(responders):
    point = inside(XINGQING)
    [found] = locate(responders["xingqing"], {"point": f"{point.x},{point.y}"})
    assert found.how == LocatedBy.COORDINATES
    assert found.region.code == XINGQING
    assert (found.point.x, found.point.y) == (point.x, point.y)


def _reference(system: str, lon: float, lat: float) -> tuple[float, float]:
    """The point in GCJ-02 or BD-09 by prcoords, the public-domain reference (lat, lon order)."""
    shifted = prcoords.wgs_gcj((lat, lon)) if system == "gcj02" else prcoords.wgs_bd((lat, lon))
    return shifted.lon, shifted.lat


@pytest.mark.parametrize("system", ["gcj02", "GCJ-02", "bd09", "bd09ll"])
def test_picker_coordinates_return_to_wgs84_within_a_metre(responders, system):
    for truth in scatter(XINGQING, 5, seed=4):
        lon, lat = _reference(system.lower().replace("-", "").replace("ll", ""), truth.x, truth.y)
        assert metres(truth, type(truth)(lon, lat, srid=4326)) > 100  # the offset is real
        [found] = locate(responders["xingqing"], {"point": f"{lon}, {lat}", "crs": system})
        assert metres(found.point, truth) < 1.0
        assert found.given == (lon, lat)


@pytest.mark.parametrize("system", ["cgcs2000", "EPSG:4490", "wgs84", "4326"])
def test_datum_coordinates_are_stored_as_given(responders, system):
    point = inside(XINGQING)
    [found] = locate(responders["xingqing"], {"point": f"{point.x} {point.y}", "crs": system})
    assert (found.point.x, found.point.y) == (point.x, point.y)
    assert found.point.srid == 4326


def test_a_click_is_wgs84(responders):
    point = inside(XINGQING)
    [found] = locate(responders["xingqing"], {"click": f"{point.x},{point.y}"})
    assert found.how == LocatedBy.MAP_CLICK
    assert (found.point.x, found.point.y) == (point.x, point.y)


def test_swapped_coordinates_are_named_with_the_swap_suggested(responders):
    point = inside(XINGQING)
    error = refused(responders["xingqing"], point=f"{point.y},{point.x}")
    assert rule_of(error) == ("point", "location.swapped")
    assert error.findings[0].suggestion == f"lon={point.x}, lat={point.y}"


def test_a_latitude_beyond_90_is_taken_for_a_swap_even_outside_china(responders):
    error = refused(responders["xingqing"], point="45.5,170.25")
    assert rule_of(error) == ("point", "location.swapped")
    assert "170.25" in error.findings[0].suggestion


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("2.35,48.85", "location.outside_china"),  # Paris
        ("200,95", "location.range"),
        ("106.2", "point.format"),
        ("106.2,abc", "point.format"),
        ("nan,38.4", "point.format"),
        ("inf,38.4", "point.format"),
        ("1,2,3", "point.format"),
    ],
)
def test_bad_coordinates_are_named(responders, text, rule):
    assert rule_of(refused(responders["xingqing"], point=text)) == ("point", rule)


@pytest.mark.parametrize(
    "system", ["webmercator", "EPSG:3857", "bd09mc", "+proj=longlat", "x" * 500]
)
def test_a_crs_outside_the_allow_list_is_refused(responders, system):
    point = inside(XINGQING)
    error = refused(responders["xingqing"], point=f"{point.x},{point.y}", crs=system)
    assert rule_of(error) == ("crs", "crs.not_accepted")
    assert "gcj02" in error.findings[0].message


def test_a_point_in_another_county_is_outside_the_response_area(responders, users):
    point = inside(XIXIA)
    error = refused(responders["xingqing"], point=f"{point.x},{point.y}")
    assert rule_of(error) == ("point", "location.outside_jurisdiction")
    [found] = locate(users["city"], {"point": f"{point.x},{point.y}"})  # the city covers it
    assert found.region.code == XIXIA


@pytest.mark.parametrize(
    "params",
    [{}, {"point": " "}, {"code": "1", "unit": "医院"}, {"click": "1,2", "q": "x"}],
)
def test_exactly_one_way_is_given(responders, params):
    assert rule_of(refused(responders["xingqing"], **params)) == ("query", "query.one_way")


def test_crs_goes_with_coordinates_only(responders):
    error = refused(responders["xingqing"], code="123456", crs="gcj02")
    assert rule_of(error) == ("crs", "crs.not_applicable")


# --- codes -----------------------------------------------------------------------------------


@pytest.fixture
def elevator(make_equipment):
    return make_equipment(
        registration_code=registration_code("3110", XINGQING, dt.date(2015, 3, 1), 41),
        certificate_number=certificate_number("梯", "3110", "宁", "A", 4321, 2020),
        rescue_id="961234",
        address="兴庆区解放东街1号",
    )


@pytest.mark.parametrize(
    "code_of",
    [
        lambda e: e.rescue_id,
        lambda e: e.device_code,
        lambda e: e.device_code.lower(),
        lambda e: e.registration_code,
        lambda e: e.certificate_number,
        lambda e: e.certificate_number.replace("(", "（").replace(")", "）"),  # full-width
    ],
    ids=[
        "rescue_id",
        "device_code",
        "lower_case",
        "registration_code",
        "certificate",
        "full_width",
    ],
)
def test_each_code_finds_the_device(responders, elevator, code_of):
    [found] = locate(responders["xingqing"], {"code": code_of(elevator)})
    assert found.how == LocatedBy.CODE
    assert found.equipment == elevator
    assert found.point == elevator.location
    assert found.region.code == XINGQING


def test_a_code_of_another_county_answers_like_an_unknown_one(responders, make_equipment):
    theirs = make_equipment(XIXIA, rescue_id="967777")
    user = responders["xingqing"]
    unknown = refused(user, code="968888")
    foreign = refused(user, code=theirs.rescue_id)
    assert rule_of(unknown) == rule_of(foreign) == ("code", "code.not_found")
    assert foreign.findings[0].message == unknown.findings[0].message.replace("968888", "967777")
    # The owner's county finds it.
    assert locate(responders["xixia"], {"code": "967777"})[0].equipment == theirs


def test_a_pipeline_is_located_on_its_route(responders, make_equipment):
    from django.contrib.gis.geos import LineString, MultiLineString

    start = inside(XINGQING)
    route = MultiLineString(
        LineString((start.x, start.y), (start.x + 0.002, start.y + 0.001)), srid=4326
    )
    pipeline = make_equipment(variety_code="8210", route=route)
    [found] = locate(responders["xingqing"], {"code": pipeline.device_code})
    assert found.approximate == "route"
    assert found.point.distance(route) < 1e-9


def test_a_device_without_a_place_is_located_at_its_use_unit(responders, make_equipment):
    device = make_equipment(location=None, declared_region_code=XINGQING)
    [found] = locate(responders["xingqing"], {"code": device.device_code})
    assert found.approximate == "use_unit"
    assert found.point == device.use_unit.location


# --- units -----------------------------------------------------------------------------------


def test_a_unit_is_found_by_part_of_its_name_exact_match_first(responders, make_unit):
    wanted = make_unit(name="宁安电梯", address="兴庆区文化街8号")
    longer = make_unit(name="银川宁安电梯维保有限公司")
    make_unit(XIXIA, name="西夏宁安电梯")  # another county's: not offered
    found = locate(responders["xingqing"], {"unit": "宁安电梯"})
    assert [f.unit for f in found] == [wanted, longer]
    assert found[0].how == LocatedBy.UNIT
    assert found[0].point == wanted.location


def test_a_unit_is_found_by_its_address_when_no_name_matches(responders, make_unit):
    unit = make_unit(name="某某物业", address="兴庆区民族北街36号")
    [found] = locate(responders["xingqing"], {"unit": "民族北街36号"})
    assert found.unit == unit


@pytest.mark.parametrize(
    ("text", "rule"), [("x", "unit.length"), ("无此单位名称", "unit.not_found")]
)
def test_unit_search_refusals(responders, make_unit, text, rule):
    make_unit(name="宁安电梯")
    assert rule_of(refused(responders["xingqing"], unit=text)) == ("unit", rule)


# --- one search box --------------------------------------------------------------------------


def test_the_search_box_tries_coordinates_then_codes_then_units(responders, elevator, make_unit):
    unit = make_unit(name="兴庆锅炉房")
    user = responders["xingqing"]
    point = inside(XINGQING)
    assert locate(user, {"q": f"{point.x},{point.y}"})[0].how == LocatedBy.COORDINATES
    assert locate(user, {"q": elevator.rescue_id})[0].equipment == elevator
    assert locate(user, {"q": "锅炉房"})[0].unit == unit
    assert rule_of(refused(user, q="无此编码或单位")) == ("q", "q.not_found")
