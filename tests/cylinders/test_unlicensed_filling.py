"""无证充装: a station filling without a filling licence in force is one of licensing's unlicensed
activities, judged against the one licence register the filling rules read too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from cylinders import services
from cylinders.rules import Rule
from licensing import findings
from licensing import services as licensing_services
from licensing.models import Licence, LicenceStatus
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling, today_at

YEAR = dt.timedelta(days=365)


def fill(station, cylinder, when) -> list[str]:
    report = services.record_fillings(station, [filling(cylinder.tag, when)], acting_user=None)
    return report.rows[0]["violations"]


def found(user, today) -> set[tuple]:
    return {
        (f.equipment_id, f.unit_id, f.kind, f.day)
        for f in findings.unlicensed(user, today=today)
        if f.kind == "filling"
    }


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


def test_a_station_filling_without_a_licence_is_a_finding(
    make_station, make_cylinder, users, today
):
    station = make_station(valid_until=None)
    cylinder = make_cylinder(owner=station, next_inspection_due=today + YEAR)
    assert fill(station, cylinder, today_at(9)) == [Rule.LICENCE_EXPIRED]
    assert found(users["xingqing"], today) == {(None, station.pk, "filling", today)}


def test_a_licensed_station_is_no_finding(station, make_cylinder, users, today):
    cylinder = make_cylinder(next_inspection_due=today + YEAR)
    assert fill(station, cylinder, today_at(9)) == []
    assert found(users["xingqing"], today) == set()


def test_the_finding_is_on_the_latest_day_filled_unlicensed(make_station, make_cylinder, users):
    day = dt.date(2026, 3, 10)
    station = make_station(valid_until=day - dt.timedelta(days=3))
    cylinder = make_cylinder(owner=station, next_inspection_due=day + YEAR)
    assert fill(station, cylinder, at(day - dt.timedelta(days=5))) == []  # licensed then
    assert fill(station, cylinder, at(day - dt.timedelta(days=2))) == [Rule.LICENCE_EXPIRED]
    assert fill(station, cylinder, at(day)) == [Rule.LICENCE_EXPIRED]
    assert found(users["xingqing"], day) == {(None, station.pk, "filling", day)}
    # Before the licence lapsed there was nothing to find.
    assert found(users["xingqing"], day - dt.timedelta(days=4)) == set()


def test_a_revoked_licence_stops_covering_the_day_it_takes_effect(
    station, make_cylinder, users, today
):
    cylinder = make_cylinder(next_inspection_due=today + YEAR)
    licence = Licence.objects.get(unit=station, kind="filling")
    licensing_services.set_licence_status(
        licence, status=LicenceStatus.REVOKED, since=today, reasons="不再满足许可条件",
        acting_user=None,
    )  # fmt: skip
    assert fill(station, cylinder, today_at(9)) == [Rule.LICENCE_EXPIRED]
    assert {f[1] for f in found(users["xingqing"], today)} == {station.pk}


def test_a_licence_issued_in_the_register_is_the_stations_licence(
    make_station, make_cylinder, users, today
):
    """One source: a filling licence issued by licensing (not through the cylinders app) covers
    the station's fillings, and then nothing is found."""
    station = make_station(valid_until=None)
    licensing_services.issue_licence(
        station, kind="filling", scope=[{"code": "2300", "grade": ""}], number="TS4641234-2030",
        authority="兴庆区市场监督管理局", issued_on=today - YEAR, expires_on=dt.date(2030, 1, 1),
        acting_user=None,
    )  # fmt: skip
    cylinder = make_cylinder(owner=station, next_inspection_due=today + YEAR)
    assert fill(station, cylinder, today_at(9)) == []
    assert found(users["xingqing"], today) == set()


def test_a_licence_for_mobile_vessels_only_does_not_cover_cylinders(
    make_station, make_cylinder, users, today
):
    station = make_station(valid_until=None)
    licensing_services.issue_licence(
        station, kind="filling", scope=[{"code": "2200", "grade": ""}], number="TS4641235-2030",
        authority="兴庆区市场监督管理局", issued_on=today - YEAR, expires_on=dt.date(2030, 1, 1),
        acting_user=None,
    )  # fmt: skip
    cylinder = make_cylinder(owner=station, next_inspection_due=today + YEAR)
    assert fill(station, cylinder, today_at(9)) == [Rule.LICENCE_EXPIRED]
    assert {f[1] for f in found(users["xingqing"], today)} == {station.pk}


def test_each_jurisdiction_finds_its_own_stations(make_station, make_cylinder, users, today):
    mine, theirs = make_station(valid_until=None), make_station(XIXIA, valid_until=None)
    for station in (mine, theirs):
        fill(station, make_cylinder(owner=station, next_inspection_due=today + YEAR), today_at(9))
    assert {f[1] for f in found(users["xingqing"], today)} == {mine.pk}
    assert {f[1] for f in found(users["xixia"], today)} == {theirs.pk}
    assert {f[1] for f in found(users["city"], today)} == {mine.pk, theirs.pk}


def test_the_findings_page_lists_the_station(make_station, make_cylinder, users, today):
    station = make_station(valid_until=None, name="无证充装站")
    fill(station, make_cylinder(owner=station, next_inspection_due=today + YEAR), today_at(9))
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get("/licensing/findings/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "无证充装站" in text and f"/units/{station.pk}/" in text
    other = Client()
    other.force_login(users["xixia"])
    assert "无证充装站" not in other.get("/licensing/findings/").content.decode()


def test_a_stations_finding_is_acted_on_without_a_device(make_station, make_cylinder, users, today):
    from licensing.models import FindingAction

    station = make_station(valid_until=None)
    fill(station, make_cylinder(owner=station, next_inspection_due=today + YEAR), today_at(9))
    client = Client()
    client.force_login(users["xingqing"])
    answer = client.post(
        "/licensing/findings/act/",
        {"equipment": "", "unit": station.pk, "kind": "filling", "action": "责令停止充装"},
    )
    assert answer.status_code == 302
    assert FindingAction.objects.get().key == (None, station.pk, "filling")
    assert "责令停止充装" in client.get("/licensing/findings/").content.decode()
