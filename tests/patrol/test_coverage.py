"""Patrol coverage per region: read from the devices' supervision history, scoped."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from django.test import Client

from accounts.models import Role, User
from patrol import services
from patrol.area import parse_area
from patrol.models import PatrolStop
from patrol.routes import StopResult, parse_days, parse_teams, record_stop_result, route_plan
from registry.models import Equipment
from tests.conftest import XINGQING, XIXIA, YINCHUAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def planners(agencies) -> dict[str, User]:
    def user(name, code):
        return User.objects.create_user(
            name, password="pw", agency=agencies[code], role=Role.SUPERVISOR
        )

    return {"xingqing": user("cov_xq", XINGQING), "xixia": user("cov_xx", XIXIA),
            "city": user("cov_city", YINCHUAN)}  # fmt: skip


@pytest.fixture
def visited(planners, device):
    """Four overdue devices in 兴庆区 and two in 西夏区; three of 兴庆区's visited (one finding,
    one order, one sealing), none of 西夏区's."""
    today = dt.date.today()
    for _ in range(4):
        device(XINGQING, due=today - dt.timedelta(days=60))
    for _ in range(2):
        device(XIXIA, due=today - dt.timedelta(days=60))
    user = planners["xingqing"]
    plan = services.create_plan(
        user, parse_area(user, None), services.Period(today, today + dt.timedelta(days=30)),
        services.Criteria(),
    )  # fmt: skip
    route_plan(plan.pk, teams=parse_teams({"count": 1}, plan, user), days=parse_days(5, plan),
               acting_user=user)  # fmt: skip
    results = [
        StopResult(visited=True, findings="压力表失效", order_issued=True, order_number="指令1"),
        StopResult(visited=True, sealed=True),
        StopResult(visited=True),
        StopResult(visited=False),
    ]
    for stop, result in zip(PatrolStop.objects.order_by("pk"), results, strict=True):
        # Recorded today whatever day each stop was planned for: said so.
        record_stop_result(stop.pk, replace(result, other_day=True), acting_user=user)


def coverage_for(user, **params):
    client = Client()
    client.force_login(user)
    response = client.get("/patrol/api/coverage/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_county_sees_its_visits_and_their_findings(planners, visited):
    body = coverage_for(planners["xingqing"])
    [row] = body["regions"]
    in_use = Equipment.objects.filter(region_id=XINGQING, status="in_use").count()
    assert row["code"] == XINGQING
    assert (row["devices_in_use"], row["devices_visited"], row["visits"]) == (in_use, 3, 3)
    assert (row["with_findings"], row["orders"], row["sealed"]) == (1, 1, 1)
    assert row["coverage"] == pytest.approx(3 / in_use, abs=1e-4)
    assert row["findings_per_visit"] == pytest.approx(1 / 3, abs=1e-4)


def test_the_city_sees_each_county_and_another_county_sees_nothing_of_it(planners, visited):
    rows = {r["code"]: r for r in coverage_for(planners["city"])["regions"]}
    assert rows[XINGQING]["visits"] == 3 and rows[XIXIA]["visits"] == 0
    theirs = coverage_for(planners["xixia"])
    assert [r["code"] for r in theirs["regions"]] == [XIXIA]
    assert theirs["totals"]["visits"] == 0


def test_a_period_before_the_visits_counts_none(planners, visited):
    body = coverage_for(planners["xingqing"], **{"from": "2020-01-01", "to": "2020-12-31"})
    assert body["totals"]["visits"] == 0 and body["regions"][0]["coverage"] == 0


@pytest.mark.parametrize("params, field", [({"from": "2026-13-01"}, "period"),
                                           ({"to": "2020-01-01", "from": "2021-01-01"}, "period"),
                                           ({"colour": "red"}, "query")])  # fmt: skip
def test_bad_parameters_are_a_400(planners, params, field):
    client = Client()
    client.force_login(planners["xingqing"])
    response = client.get("/patrol/api/coverage/", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_plans_page_shows_the_table(planners, visited):
    client = Client()
    client.force_login(planners["xingqing"])
    html = client.get("/patrol/").content.decode()
    assert 'id="coverage"' in html and f'data-region="{XINGQING}"' in html
