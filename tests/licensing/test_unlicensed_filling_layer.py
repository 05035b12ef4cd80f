"""无证充装 on the map (issue 23): the stations that filled without a filling licence in force are
the `unlicensed_filling` layer, and every surface that reads a layer's definition serves the same
stations — tiles' count, the list beside the map, the export, OGC — each inside its jurisdiction."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from cylinders.models import StationDay
from exports.core import export_layer
from maps import tiles
from registry.models import UnitRole
from tests.conftest import XINGQING, XIXIA, signed_in

NINGXIA_BOX = "104,35,108,40"
LAYER = "unlicensed_filling"


@pytest.fixture
def stations(make_unit, issue, today):
    """Mine: one that filled a week ago with no licence, one that filled under its licence, one
    whose licence lapsed before it filled yesterday, one unlicensed that never filled. Theirs
    (西夏区): one that filled with no licence."""

    def station(code: str, name: str, filled_days_ago: int | None):
        unit = make_unit(code, roles=(UnitRole.FILLING,), name=name)
        if filled_days_ago is not None:
            StationDay.objects.create(station=unit, day=today - dt.timedelta(days=filled_days_ago),
                                      fillings=9, region_id=code)  # fmt: skip
        return unit

    rogue = station(XINGQING, "无证充装甲站", 7)
    licensed = station(XINGQING, "持证充装乙站", 3)
    issue(licensed, kind="filling", scope=(("2300", ""),))
    lapsed = station(XINGQING, "过期充装丙站", 1)
    issue(lapsed, kind="filling", scope=(("2300", ""),), issued_on=today - dt.timedelta(days=1500),
          expires_on=today - dt.timedelta(days=20))  # fmt: skip
    station(XINGQING, "未充装丁站", None)
    theirs = station(XIXIA, "西夏无证充装站", 2)
    tiles.CACHE.clear()
    return rogue, lapsed, theirs


def _ogc(user) -> dict[int, dict]:
    answer = signed_in(user).get(f"/ogcapi/collections/{LAYER}/items",
                                 {"bbox": NINGXIA_BOX, "f": "json"})  # fmt: skip
    assert answer.status_code == 200, answer.content
    return {f["id"]: f["properties"] for f in answer.json()["features"]}


def test_ogc_serves_the_stations_that_filled_unlicensed(stations, users):
    rogue, lapsed, theirs = stations
    mine = _ogc(users["xingqing"])
    assert set(mine) == {rogue.pk, lapsed.pk}
    assert mine[rogue.pk]["单位名称"] == "无证充装甲站" and mine[rogue.pk]["充装许可证编号"] is None
    assert mine[lapsed.pk]["充装许可证编号"].startswith("TS4")  # the lapsed one, as on its page
    assert set(_ogc(users["xixia"])) == {theirs.pk}
    assert set(_ogc(users["city"])) == {rogue.pk, lapsed.pk, theirs.pk}


def test_the_tiles_count_them(stations, users):
    answer = signed_in(users["xingqing"]).get(f"/tiles/{LAYER}/count", {"bbox": NINGXIA_BOX})
    assert answer.status_code == 200, answer.content
    assert answer.json()["count"] == 2
    city = signed_in(users["city"]).get(f"/tiles/{LAYER}/count", {"bbox": NINGXIA_BOX})
    assert city.json()["count"] == 3


def test_the_list_beside_the_map_names_them(stations, users):
    rogue, lapsed, theirs = stations
    page = signed_in(users["xingqing"]).get(f"/map/list/{LAYER}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "无证充装甲站" in text and "过期充装丙站" in text
    assert f"/cylinders/stations/{rogue.pk}/" in text
    assert "持证充装乙站" not in text and "未充装丁站" not in text and "西夏无证充装站" not in text


def test_the_export_holds_them(stations, users, tmp_path):
    rogue, lapsed, _ = stations
    destination = tmp_path / "unlicensed_filling.csv"
    export_layer(users["xingqing"], LAYER, None, None, "csv", "wgs84", destination)
    with destination.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["编号"]) for r in rows) == sorted([rogue.pk, lapsed.pk])


def test_a_station_licensed_since_is_off_the_layer(stations, users, issue, today):
    """The layer follows the rule: once the day it filled is covered, the station leaves."""
    rogue, lapsed, _ = stations
    issue(rogue, kind="filling", scope=(("2300", ""),), issued_on=today - dt.timedelta(days=30))
    tiles.CACHE.clear()
    assert set(_ogc(users["xingqing"])) == {lapsed.pk}
