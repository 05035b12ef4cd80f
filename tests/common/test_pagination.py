"""Bounded pages (issue 17): `limit` and `offset` outside their bounds answer a 400 naming the
parameter; they are never clamped, defaulted or passed to PostgreSQL."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from common.api import Pagination
from tests.conftest import XINGQING

pytestmark = pytest.mark.django_db


@pytest.fixture
def county(users) -> APIClient:
    client = APIClient()
    client.force_authenticate(users["xingqing"])
    return client


def features(body: dict) -> list[dict]:
    return body["results"]["features"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=100000", "limit"),
        (f"limit={Pagination.max_limit + 1}", "limit"),
        ("limit=99999999999999999999999999", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=1e3", "limit"),
        ("limit=", "limit"),
        ("limit=%D9%A1%D9%A2", "limit"),  # Arabic-Indic digits, which int() reads
        ("offset=-5", "offset"),
        ("offset=abc", "offset"),
        ("offset=99999999999999999999999999", "offset"),
        ("offset=" + "9" * 5000, "offset"),
    ],
)
def test_a_bad_paging_parameter_is_a_400_naming_it(county, make_equipment, query, field):
    make_equipment(XINGQING)
    response = county.get(f"/api/equipment/?{query}")
    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert errors[field][0]["rule"] == f"{field}.range"
    assert "/" in errors[field][0]["message"]  # 中文 / English


def test_both_bad_parameters_name_the_first_read(county, make_equipment):
    make_equipment(XINGQING)
    response = county.get("/api/units/?limit=5000&offset=1")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["limit"]


def test_pages_within_bounds_walk_the_rows(county, make_equipment):
    made = {make_equipment(XINGQING).pk for _ in range(3)}
    first = county.get("/api/equipment/?limit=2").json()
    assert first["count"] == 3 and len(features(first)) == 2
    second = county.get(first["next"]).json()
    assert len(features(second)) == 1 and second["next"] is None
    assert {f["id"] for f in features(first) + features(second)} == made


def test_the_largest_page_and_an_offset_past_the_end_answer(county, make_equipment):
    make_equipment(XINGQING)
    biggest = county.get(f"/api/equipment/?limit={Pagination.max_limit}")
    assert biggest.status_code == 200 and len(features(biggest.json())) == 1
    past = county.get(f"/api/equipment/?offset={Pagination.max_offset}")
    assert past.status_code == 200 and features(past.json()) == []


def test_without_limit_a_page_is_the_default_size(users, monkeypatch):
    # A small default, so that the province's divisions are more than a page.
    monkeypatch.setattr(Pagination, "default_limit", 3)
    client = APIClient()
    client.force_authenticate(users["province"])
    body = client.get("/api/regions/").json()
    assert body["count"] > 3
    assert len(body["results"]) == 3


def test_the_schema_states_the_bounds(county):
    schema = county.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/equipment/"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == Pagination.max_limit
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["offset"]["schema"]["minimum"] == 0
