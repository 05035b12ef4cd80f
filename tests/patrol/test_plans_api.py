"""The patrol API: making plans from an area, reading them, pinning and dropping, all scoped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.gis.geos import Polygon
from django.test import Client

from accounts.models import AuditEntry
from geo.models import Region
from patrol.api import CandidateSerializer, PlanDetailSerializer, PlanSerializer
from patrol.models import PatrolCandidate, PatrolPlan
from tests.common.shapes import assert_shape
from tests.conftest import XINGQING, XIXIA, YINCHUAN, inside
from tests.patrol.conftest import ON

PLANS = "/patrol/api/plans/"
PERIOD = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=30)).isoformat()}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(user, body: dict):
    return client_for(user).post(PLANS, body, content_type="application/json")


def plan_for(user, **body):
    response = post(user, {"period": PERIOD, **body})
    assert response.status_code == 201, response.content
    return response.json()


def box(center, half: float = 0.002) -> Polygon:
    x, y = center.x, center.y
    return Polygon.from_bbox((x - half, y - half, x + half, y + half))


def error_rules(response, field: str) -> list[str]:
    assert response.status_code == 400, response.content
    return [e["rule"] for e in response.json()["errors"][field]]


# --------------------------------------------------------------------------- making a plan


def test_plans_answer_the_shapes_the_schema_documents(users, hand_built):
    client = client_for(users["xingqing"])
    plan = plan_for(users["xingqing"])
    assert plan["candidate_list"], "no candidate to check"
    assert_shape(PlanDetailSerializer(), plan)
    assert_shape(PlanSerializer(many=True), client.get(PLANS).json())
    candidate = client.get(f"/patrol/api/candidates/{plan['candidate_list'][0]['id']}/")
    assert_shape(CandidateSerializer(), candidate.json())


def test_a_plan_of_the_jurisdiction_ranks_its_devices(users, hand_built):
    plan = plan_for(users["xingqing"])
    listed = plan["candidate_list"]
    assert [c["equipment"]["id"] for c in listed] == [
        hand_built[name].pk
        for name in ["failed_lift", "overdue_lift", "crane", "old_boiler", "crane_neighbour"]
    ]
    assert [c["rank"] for c in listed] == [1, 2, 3, 4, 5]
    for candidate in listed:
        assert sum(r["points"] for r in candidate["reasons"]) == candidate["score"]
    stored = PatrolPlan.objects.get(pk=plan["id"])
    assert (stored.region_id, stored.owner, stored.starts_on) == (XINGQING, users["xingqing"], ON)
    assert stored.area.equals(Region.objects.get(code=XINGQING).boundary)
    assert AuditEntry.objects.filter(
        action="patrol.plan_created", object_pk=str(stored.pk), region_code=XINGQING
    ).exists()


def test_criteria_narrow_the_candidates(users, hand_built):
    plan = plan_for(users["xingqing"], criteria={"kind": "3000", "min_score": 20, "limit": 1})
    [only] = plan["candidate_list"]
    assert only["equipment"]["id"] == hand_built["failed_lift"].pk
    assert plan["criteria"]["kinds"] == ["3000"]


def test_a_city_plans_one_of_its_counties(users, hand_built, device):
    xixia = device(XIXIA)
    plan = plan_for(users["city"], area={"region": XIXIA})
    assert [c["equipment"]["id"] for c in plan["candidate_list"]] == [xixia.pk]
    assert plan["region"] == XIXIA


@pytest.mark.parametrize("form", ["geojson", "wkt"])
def test_a_drawn_polygon_holds_only_what_lies_in_it(users, device, form):
    here = inside(XINGQING)
    boundary = Region.objects.get(code=XINGQING).boundary
    elsewhere = boundary.difference(here.buffer(0.05)).point_on_surface
    inside_box = device(due=ON - dt.timedelta(days=5))
    device(location=elsewhere, due=ON - dt.timedelta(days=5))
    polygon = box(here)
    drawn = {"geojson": polygon.json, "wkt": polygon.wkt}[form]
    plan = plan_for(users["xingqing"], area={"polygon": drawn})
    assert [c["equipment"]["id"] for c in plan["candidate_list"]] == [inside_box.pk]
    assert PatrolPlan.objects.get(pk=plan["id"]).area.equals(polygon)


BOWTIE = "POLYGON((106.2 38.4, 106.3 38.5, 106.3 38.4, 106.2 38.5, 106.2 38.4))"


@pytest.mark.parametrize(
    ("area", "rule"),
    [
        ({"polygon": BOWTIE}, "area.polygon"),
        ({"polygon": "not a polygon"}, "area.polygon"),
        ({"polygon": {"type": "Point", "coordinates": [106.2, 38.4]}}, "area.polygon"),
        ({"polygon": "POLYGON((0 0, 1 0, 1 1, 0 0))"}, "area.outside_jurisdiction"),
        ({"region": XIXIA}, "area.outside_jurisdiction"),
        ({"region": YINCHUAN}, "area.outside_jurisdiction"),  # wider than the county
        ({"region": "649999"}, "area.region"),
        ({"circle": 3}, "area.shape"),
    ],
)
def test_a_bad_area_is_a_400_naming_area(users, hand_built, area, rule):
    response = post(users["xingqing"], {"area": area, "period": PERIOD})
    assert error_rules(response, "area") == [rule]
    assert not PatrolPlan.objects.exists()


def test_a_polygon_in_the_neighbouring_county_is_outside(users, hand_built):
    response = post(
        users["xingqing"], {"area": {"polygon": box(inside(XIXIA)).wkt}, "period": PERIOD}
    )
    assert error_rules(response, "area") == ["area.outside_jurisdiction"]


def test_an_area_without_devices_saves_nothing(users):
    response = post(users["xingqing"], {"period": PERIOD})
    assert error_rules(response, "area") == ["patrol.no_candidates"]
    assert not PatrolPlan.objects.exists()
    assert not AuditEntry.objects.filter(action="patrol.plan_created").exists()


def test_no_device_meeting_the_criteria_saves_nothing(users, hand_built):
    response = post(users["xingqing"], {"period": PERIOD, "criteria": {"min_score": 1000}})
    assert error_rules(response, "area") == ["patrol.no_candidates"]
    assert not PatrolPlan.objects.exists() and not PatrolCandidate.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({}, "period", "period.required"),
        ({"period": {"from": "2026-06-10", "to": "2026-06-01"}}, "period", "period.order"),
        ({"period": {"from": "June", "to": "2026-06-01"}}, "period", "period.date"),
        ({"period": {"from": "2026-01-01", "to": "2027-06-01"}}, "period", "period.length"),
        ({"period": None}, "period", "period.required"),
        ({"period": PERIOD, "teams": 0}, "teams", "teams.range"),
        ({"period": PERIOD, "criteria": {"kind": "9999"}}, "criteria.kind", "criteria.kind"),
        ({"period": PERIOD, "criteria": {"limit": 0}}, "criteria.limit", "limit.range"),
        ({"period": PERIOD, "criteria": {"colour": "red"}}, "criteria", "criteria.unknown"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(users, hand_built, body, field, rule):
    assert error_rules(post(users["xingqing"], body), field) == [rule]
    assert not PatrolPlan.objects.exists()


def test_a_national_user_picks_an_area(users, hand_built):
    assert error_rules(post(users["national"], {"period": PERIOD}), "area") == ["area.required"]
    assert plan_for(users["national"], area={"region": XINGQING})["region"] == XINGQING


# --------------------------------------------------------------------------- pin and drop


def candidate_url(candidate_id: int) -> str:
    return f"/patrol/api/candidates/{candidate_id}/"


def patch(user, candidate_id: int, body):
    return client_for(user).patch(
        candidate_url(candidate_id), body, content_type="application/json"
    )


def test_pin_then_drop(users, hand_built):
    plan = plan_for(users["xingqing"])
    first = plan["candidate_list"][0]["id"]
    pinned = patch(users["xingqing"], first, {"pinned": True}).json()
    assert (pinned["pinned"], pinned["dropped"]) == (True, False)
    dropped = patch(users["xingqing"], first, {"dropped": True}).json()
    assert (dropped["pinned"], dropped["dropped"]) == (False, True)
    entries = AuditEntry.objects.filter(action="patrol.candidate_marked", object_pk=str(first))
    assert [(e.before["dropped"], e.after["dropped"]) for e in entries.order_by("id")] == [
        (False, False),
        (False, True),
    ]
    assert client_for(users["xingqing"]).get(f"{PLANS}{plan['id']}/").json()["dropped"] == 1


@pytest.mark.parametrize("body", [{}, {"pinned": "yes"}, {"pinned": True, "rank": 1}])
def test_a_bad_mark_is_a_400(users, hand_built, body):
    first = plan_for(users["xingqing"])["candidate_list"][0]["id"]
    assert error_rules(patch(users["xingqing"], first, body), "candidate") == ["candidate.flags"]


# --------------------------------------------------------------------------- scoping


@pytest.fixture
def their_plan(users, device) -> dict:
    device(XIXIA, due=ON - dt.timedelta(days=40))
    return plan_for(users["xixia"])


def test_another_countys_plan_is_never_shown(users, hand_built, their_plan):
    mine = plan_for(users["xingqing"])
    client = client_for(users["xingqing"])
    assert [p["id"] for p in client.get(PLANS).json()] == [mine["id"]]
    assert client.get(f"{PLANS}{their_plan['id']}/").status_code == 404
    theirs = their_plan["candidate_list"][0]["id"]
    assert client.get(candidate_url(theirs)).status_code == 404
    assert patch(users["xingqing"], theirs, {"pinned": True}).status_code == 404
    assert not PatrolCandidate.objects.get(pk=theirs).pinned


def test_the_city_sees_its_counties_plans(users, hand_built, their_plan):
    mine = plan_for(users["xingqing"])
    listed = {p["id"] for p in client_for(users["city"]).get(PLANS).json()}
    assert listed == {mine["id"], their_plan["id"]}
    # …and a county sees none of the city's own plans.
    city_plan = plan_for(users["city"], area={"region": XINGQING})
    assert client_for(users["xixia"]).get(f"{PLANS}{city_plan['id']}/").status_code == 404


def test_inspectors_see_no_plans_until_teams_assign_them(users, inspector, hand_built):
    plan = plan_for(users["xingqing"])
    client = client_for(inspector)
    assert client.get(PLANS).json() == []
    assert client.get(f"{PLANS}{plan['id']}/").status_code == 404
    assert (
        client.post(PLANS, {"period": PERIOD}, content_type="application/json").status_code == 403
    )


def test_listing_plans_costs_the_same_for_many(users, hand_built, django_assert_num_queries):
    client = client_for(users["xingqing"])
    plan_for(users["xingqing"])
    with django_assert_num_queries(3):  # session, user, plans with their counts
        client.get(PLANS)
    plan_for(users["xingqing"])
    plan_for(users["xingqing"])
    with django_assert_num_queries(3):
        assert len(client.get(PLANS).json()) == 3
