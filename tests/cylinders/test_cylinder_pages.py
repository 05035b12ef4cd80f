"""The cylinder pages on real data: chain, station day, overdue list, violations, public status."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings

from cylinders import services
from cylinders.models import Cylinder, CylinderStatus, Violation
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling, today, today_at


@pytest.fixture
def county(users) -> Client:
    client = Client()
    client.force_login(users["xingqing"])
    return client


def test_the_chain_lists_inspections_and_fillings(county, station, make_cylinder, users):
    cylinder = make_cylinder(next_inspection_due=today() + dt.timedelta(days=30))
    services.record_cylinder_inspection(
        cylinder, acting_user=users["xingqing"], inspected_on=today() - dt.timedelta(days=3),
        passed=True, body_name="宁夏特检院",
    )  # fmt: skip
    services.record_fillings(station, [filling(cylinder.tag, today_at(0), check_result="fail")],
                             acting_user=None)  # fmt: skip
    page = county.get(f"/cylinders/{cylinder.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "宁夏特检院" in html and cylinder.maker_name in html
    assert "充装前检查不合格仍充装" in html  # the filling's violation, by its label


def test_a_passed_inspection_moves_the_due_date_by_the_types_interval(make_cylinder):
    cylinder = make_cylinder(kind="lpg")
    services.record_cylinder_inspection(
        cylinder, acting_user=None, inspected_on=dt.date(2026, 2, 1), passed=True, body_name="x"
    )
    cylinder.refresh_from_db()
    assert cylinder.next_inspection_due == dt.date(2030, 2, 1)  # LPG: every 4 years


def test_a_failed_inspection_scraps_the_cylinder(make_cylinder):
    cylinder = make_cylinder()
    services.record_cylinder_inspection(
        cylinder, acting_user=None, inspected_on=dt.date(2026, 2, 1), passed=False, body_name="x"
    )
    cylinder.refresh_from_db()
    assert cylinder.status == CylinderStatus.SCRAPPED


def test_another_countys_cylinder_and_station_are_as_missing(county, make_station, make_cylinder):
    theirs = make_station(XIXIA)
    cylinder = make_cylinder(owner=theirs)
    assert county.get(f"/cylinders/{cylinder.pk}/").status_code == 404
    assert county.get(f"/cylinders/stations/{theirs.pk}/").status_code == 404


def test_the_station_day_lists_that_days_fillings_only(county, station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=today() - dt.timedelta(days=1))
    services.record_fillings(station, [
        filling(cylinder.tag, today_at(0)), filling("YESTERDAY1", at(today() - dt.timedelta(days=1), 23)),
    ], acting_user=None)  # fmt: skip
    page = county.get(f"/cylinders/stations/{station.pk}/", {"day": today().isoformat()})
    assert [f.tag for f, _ in page.context["fillings"]] == [cylinder.tag]
    summary = page.context["summary"]
    assert (summary["day_fillings"], summary["day_violations"]) == (1, 1)
    assert [c.tag for c in page.context["overdue"]] == [cylinder.tag]
    before = county.get(f"/cylinders/stations/{station.pk}/",
                        {"day": (today() - dt.timedelta(days=1)).isoformat()})  # fmt: skip
    assert [f.tag for f, _ in before.context["fillings"]] == ["YESTERDAY1"]


def test_a_bad_day_shows_today_with_a_message(county, station):
    page = county.get(f"/cylinders/stations/{station.pk}/", {"day": "not-a-day"})
    assert page.status_code == 200 and page.context["day"] == today()
    assert page.context["day_error"]


def test_the_violations_list_is_the_countys(county, make_station):
    mine, theirs = make_station(valid_until=None), make_station(XIXIA, valid_until=None)
    services.record_fillings(mine, [filling("MINE1", today_at(0))], acting_user=None)
    services.record_fillings(theirs, [filling("THEIRS1", today_at(0))], acting_user=None)
    html = county.get("/cylinders/").content.decode()
    assert "MINE1" in html and "THEIRS1" not in html
    only = county.get("/cylinders/", {"rule": "licence_expired"}).context["page"]
    assert {v.tag for v in only} == {"MINE1"}


def test_the_search_opens_the_chain_of_a_cylinder_of_the_county(county, make_cylinder):
    cylinder = make_cylinder()
    assert county.get("/cylinders/", {"tag": cylinder.tag}).url == f"/cylinders/{cylinder.pk}/"
    assert county.get("/cylinders/", {"tag": "NOPE"}).context["not_found"]


@pytest.mark.parametrize(
    "fields, verdict",
    [
        ({"next_inspection_due": today()}, "可以充装"),
        ({"next_inspection_due": today() - dt.timedelta(days=1)}, "禁止充装"),
        ({"scrap_on": today()}, "禁止充装"),
        ({"status": CylinderStatus.LOST}, "禁止充装"),
    ],
)
def test_the_public_status_is_in_the_public_space(make_cylinder, fields, verdict):
    cylinder = make_cylinder(**fields)
    page = Client().get("/p/cylinder/", {"tag": cylinder.tag})
    assert page.status_code == 200
    assert verdict in page.content.decode()
    # The public space's answer: no session, no CSRF cookie, its own CSP.
    assert not page.cookies
    assert "default-src 'none'" in page["Content-Security-Policy"]


def test_the_public_status_of_an_unknown_tag(db):
    answer = Client().get("/p/cylinder/", {"tag": "NOPE"})
    assert answer.status_code == 404
    assert "未登记气瓶，禁止充装" in answer.content.decode()


def test_the_former_address_leads_to_the_public_space(db):
    answer = Client().get("/cylinders/public/", {"tag": "NOPE 1"})
    assert answer.status_code == 302
    assert answer.url == "/p/cylinder/?tag=NOPE+1"


@override_settings(PUBLIC_RATE_LIMITS={"lookup": (3, 60), "report": (2, 600)})
def test_cylinder_lookups_count_against_the_clients_limit(make_cylinder):
    """Tags are often serial: walking them is as limited as walking device codes."""
    cylinder = make_cylinder()
    client = Client(REMOTE_ADDR="203.0.113.77")
    statuses = [client.get("/p/cylinder/", {"tag": cylinder.tag}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/p/cylinder/").status_code == 200  # the empty form costs nothing


@pytest.mark.parametrize(
    ("model", "field", "method"),
    [(Cylinder, "kind", "kind_label"), (Cylinder, "status", "status_label"),
     (Violation, "rule", "rule_label")],
)  # fmt: skip
def test_the_rows_labels_are_djangos_display_of_every_choice(model, field, method):
    """The pages' one-lookup labels say what get_FOO_display says, an unknown value as itself."""
    for value, _ in model._meta.get_field(field).choices:
        row = model(**{field: value})
        assert getattr(row, method)() == getattr(row, f"get_{field}_display")()
    assert getattr(model(**{field: "legacy"}), method)() == "legacy"
