"""The cylinders on the map: the filling-stations layer with its figures, scoped, and the overdue-
cylinder share per county in the choropleth."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cylinders import services
from cylinders.models import CylinderStatus
from layers.catalogue import LAYERS
from tests.conftest import XINGQING, XIXIA, YINCHUAN
from tests.cylinders.rows import filling, today, today_at

NINGXIA_BOX = "104,35,108,40"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def features(user) -> list[dict]:
    """The stations layer as the OGC API serves it (the export's columns, by Chinese name)."""
    answer = signed_in(user).get(
        "/ogcapi/collections/stations/items", {"bbox": NINGXIA_BOX, "f": "json"}
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["features"]


@pytest.fixture
def stations(make_station, make_cylinder):
    """兴庆区: one station with 3 cylinders (1 overdue, 1 lost and overdue), one violation;
    西夏区: a station with 1 overdue cylinder of 2."""
    mine, theirs = make_station(), make_station(XIXIA)
    past = today() - dt.timedelta(days=2)
    due = make_cylinder(owner=mine, next_inspection_due=past)
    make_cylinder(owner=mine, next_inspection_due=today() + dt.timedelta(days=100))
    make_cylinder(owner=mine, next_inspection_due=past, status=CylinderStatus.LOST)
    make_cylinder(owner=theirs, next_inspection_due=past)
    make_cylinder(owner=theirs, next_inspection_due=today() + dt.timedelta(days=5))
    services.record_fillings(mine, [filling(due.tag, today_at(0))], acting_user=None)
    return mine, theirs


def test_the_stations_layer_is_in_the_catalogue():
    assert "stations" in LAYERS


def test_the_stations_carry_their_figures(stations, users):
    mine, theirs = stations
    figures = {f["id"]: f["properties"] for f in features(users["city"])}
    # Counted by hand from the fixture: lost cylinders are owned but not overdue.
    names = ("产权气瓶数", "超期未检气瓶数", "近 30 天充装数", "违规数")
    assert [figures[mine.pk][n] for n in names] == [3, 1, 1, 1]
    assert [figures[theirs.pk][n] for n in names] == [2, 1, 0, 0]


def test_a_county_sees_only_its_stations(stations, users):
    mine, theirs = stations
    ids = {f["id"] for f in features(users["xingqing"])}
    assert mine.pk in ids and theirs.pk not in ids


def test_only_filling_units_are_stations(stations, make_unit, users):
    plain = make_unit(XINGQING)
    assert plain.pk not in {f["id"] for f in features(users["xingqing"])}


def test_the_choropleth_has_the_overdue_cylinder_share(stations, users):
    body = signed_in(users["city"]).get("/map/regions.geojson").json()
    assert "cylinder_overdue_rate" in {m["name"] for m in body["metrics"]}
    counties = {f["id"]: f["properties"] for f in body["features"]}
    # 兴庆区: 2 in service (the lost one is not), 1 overdue; 西夏区: 1 of 2.
    assert (counties[XINGQING]["cylinders"], counties[XINGQING]["overdue_cylinders"]) == (2, 1)
    assert counties[XINGQING]["cylinder_overdue_rate"] == 0.5
    assert counties[XIXIA]["cylinder_overdue_rate"] == 0.5
    assert body["totals"]["cylinders"] == 4


def test_the_choropleth_of_a_county_holds_no_other_countys_cylinders(stations, users):
    body = signed_in(users["xingqing"]).get("/map/regions.geojson").json()
    assert body["totals"]["cylinders"] == 2
    assert YINCHUAN not in {f["id"] for f in body["features"]}
