"""The REST API: scoped reads (404 across jurisdictions), validated writes (400 naming the field)."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from geo import crs
from registry.models import Equipment, Inspection
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user):
    api.force_authenticate(user)
    return api


def test_anonymous_gets_nothing(api, make_equipment):
    make_equipment(XINGQING)
    for url in (
        "/api/equipment/",
        "/api/units/",
        "/api/accidents/",
        "/api/resources/",
        "/api/regions/",
    ):
        assert api.get(url).status_code == 403, url


@pytest.mark.parametrize("endpoint", ["equipment", "units"])
def test_county_lists_only_its_own_rows(api, users, make_equipment, endpoint):
    mine, theirs = make_equipment(XINGQING), make_equipment(XIXIA)
    body = as_user(api, users["xingqing"]).get(f"/api/{endpoint}/").json()
    ids = {feature["id"] for feature in body["results"]["features"]}
    expected = {mine.pk} if endpoint == "equipment" else {mine.use_unit_id}
    assert ids == expected
    assert (theirs.pk if endpoint == "equipment" else theirs.use_unit_id) not in ids


def test_other_countys_equipment_is_404_not_403(api, users, make_equipment):
    theirs = make_equipment(XIXIA)
    client = as_user(api, users["xingqing"])
    assert client.get(f"/api/equipment/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/equipment/{theirs.pk}/inspections/").status_code == 404
    assert (
        client.post(
            f"/api/equipment/{theirs.pk}/inspections/",
            {"conclusion": "pass", "inspected_on": "2026-01-05"},
        ).status_code
        == 404
    )
    assert as_user(api, users["city"]).get(f"/api/equipment/{theirs.pk}/").status_code == 200


def test_regions_are_scoped(api, users):
    codes = {
        r["code"]
        for r in as_user(api, users["xingqing"]).get("/api/regions/?limit=1000").json()["results"]
    }
    assert codes == {XINGQING}
    codes = {
        r["code"]
        for r in as_user(api, users["city"]).get("/api/regions/?limit=1000").json()["results"]
    }
    assert XINGQING in codes and XIXIA in codes and not any(c.startswith("6402") for c in codes)


def test_search_by_any_code(api, users, make_equipment):
    device = make_equipment(XINGQING, rescue_id="123456", certificate_number="梯11宁A00012(20)")
    client = as_user(api, users["xingqing"])
    for code in (device.device_code, "123456", "梯11宁A00012(20)"):
        features = client.get("/api/equipment/", {"code": code}).json()["results"]["features"]
        assert [f["id"] for f in features] == [device.pk], code


def test_bad_region_filter_is_400(api, users):
    response = as_user(api, users["xingqing"]).get("/api/equipment/", {"region": "64-01"})
    assert response.status_code == 400
    assert "region" in response.json()["errors"]


def registration(unit, **overrides):
    point = inside(XINGQING)
    data = {
        "variety_code": "3110",
        "use_unit": unit.pk,
        "longitude": point.x,
        "latitude": point.y,
        "device_code": "3110T1234202000077",
        "commissioned_on": "2024-03-01",
    }
    data.update(overrides)
    return data


def test_register_equipment_through_the_api(api, users, make_unit):
    unit = make_unit(XINGQING)
    response = as_user(api, users["xingqing"]).post(
        "/api/equipment/", registration(unit), format="json"
    )
    assert response.status_code == 201, response.json()
    device = Equipment.objects.get(pk=response.json()["id"])
    assert (device.region_id, device.kind, device.next_inspection_due) == (
        XINGQING,
        "3000",
        dt.date(2025, 3, 1),
    )


@pytest.mark.parametrize("system", [crs.CRS.GCJ02, crs.CRS.BD09, crs.CRS.CGCS2000])
def test_coordinates_are_converted_before_storage(api, users, make_unit, system):
    unit = make_unit(XINGQING)
    point = inside(XINGQING)
    lon, lat = crs.from_wgs84(point.x, point.y, system)
    data = registration(unit, longitude=lon, latitude=lat, crs=system.value)
    response = as_user(api, users["xingqing"]).post("/api/equipment/", data, format="json")
    assert response.status_code == 201, response.json()
    stored = Equipment.objects.get(pk=response.json()["id"]).location
    assert stored.distance(point) < 1e-7  # degrees: well under a centimetre


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"device_code": "3110T12342020"}, "device_code", "device_code.length"),
        ({"variety_code": "3100"}, "variety", "variety.not_registrable"),
        ({"variety_code": "ZZ90"}, "variety_code", None),
        ({"longitude": 2.35, "latitude": 48.85}, "location", "location.outside_china"),
    ],
)
def test_bad_registration_is_400_naming_field_and_rule(
    api, users, make_unit, overrides, field, rule
):
    unit = make_unit(XINGQING)
    before = Equipment.objects.count()
    response = as_user(api, users["xingqing"]).post(
        "/api/equipment/", registration(unit, **overrides), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    if rule:
        assert rule in {e["rule"] for e in errors[field]}
    assert Equipment.objects.count() == before


def test_swapped_coordinates_suggest_the_swap(api, users, make_unit):
    unit = make_unit(XINGQING)
    point = inside(XINGQING)
    response = as_user(api, users["xingqing"]).post(
        "/api/equipment/", registration(unit, longitude=point.y, latitude=point.x), format="json"
    )
    assert response.status_code == 400
    (finding,) = response.json()["errors"]["location"]
    assert finding["rule"] == "location.swapped"
    assert finding["suggestion"] == f"lon={point.x}, lat={point.y}"


def test_cannot_register_in_another_county(api, users, make_unit):
    unit = make_unit(XINGQING)
    point = inside(XIXIA)
    response = as_user(api, users["xingqing"]).post(
        "/api/equipment/", registration(unit, longitude=point.x, latitude=point.y), format="json"
    )
    assert response.status_code == 400
    assert "region" in response.json()["errors"]


def test_use_unit_of_another_county_is_refused_without_revealing_it(api, users, make_unit):
    foreign = make_unit(XIXIA)
    response = as_user(api, users["xingqing"]).post(
        "/api/equipment/", registration(foreign), format="json"
    )
    assert response.status_code == 400
    assert "use_unit" in response.json()["errors"]


def test_record_inspection_moves_due_date(api, users, make_equipment):
    device = make_equipment(XINGQING)
    response = as_user(api, users["xingqing"]).post(
        f"/api/equipment/{device.pk}/inspections/",
        {"conclusion": "pass", "inspected_on": "2026-05-10"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    device.refresh_from_db()
    assert device.next_inspection_due == dt.date(2027, 5, 10)
    assert Inspection.objects.filter(equipment=device).count() == 1


def test_future_inspection_date_is_400(api, users, make_equipment):
    device = make_equipment(XINGQING)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    response = as_user(api, users["xingqing"]).post(
        f"/api/equipment/{device.pk}/inspections/",
        {"conclusion": "pass", "inspected_on": tomorrow.isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "inspected_on" in response.json()["errors"]


def test_list_query_count_does_not_grow_with_rows(
    api, users, make_equipment, django_assert_max_num_queries
):
    for _ in range(15):
        make_equipment(XINGQING)
    client = as_user(api, users["xingqing"])
    with django_assert_max_num_queries(4):
        assert client.get("/api/equipment/").status_code == 200


def test_openapi_schema_and_offline_docs(api, users):
    client = as_user(api, users["xingqing"])
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/").content.decode()
    assert "https://" not in page and "http://" not in page.replace("http://testserver", "")
