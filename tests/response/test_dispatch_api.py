"""The dispatch and accident API: asks and answers through HTTP, scoped, 400s naming the problem."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry.models import Accident
from response import services
from response.dispatch import dispatch_incident, escalate_due
from response.locate import by_code
from response.models import Dispatch, IncidentState
from tests.conftest import XINGQING, XIXIA

pytestmark = pytest.mark.django_db

API = "/response/api"
S = IncidentState


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def errors(response) -> dict:
    """By field: a refused write's findings, or the serializer's messages for a malformed value."""
    assert response.status_code == 400, response.content
    body = response.json()
    return body.get("errors", body)


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


def reported(responder, device, t0):
    [located] = by_code(responder, device.rescue_id)
    return services.report_incident(located, acting_user=responder, reported_at=t0)


@pytest.fixture
def mine(make_equipment, make_unit, make_resources, responders, t0):
    maintainer = make_unit(roles=("maintenance",), name="兴庆签约维保")
    make_unit(roles=("maintenance",), name="兴庆就近维保")
    make_resources(XINGQING, 2, seed=31, resource_type="rescue_team")
    device = make_equipment(rescue_id="965555", maintenance_unit=maintainer)
    return reported(responders["xingqing"], device, t0)


@pytest.fixture
def theirs(make_equipment, make_unit, make_resources, responders, t0):
    device = make_equipment(
        XIXIA, rescue_id="966666", maintenance_unit=make_unit(XIXIA, roles=("maintenance",))
    )
    [team] = make_resources(XIXIA, 1, seed=32, resource_type="rescue_team")
    incident = reported(responders["xixia"], device, t0)
    dispatch = dispatch_incident(incident.pk, acting_user=responders["xixia"], at=t0)
    return {"incident": incident, "dispatch": dispatch, "resource": team}


def test_a_call_dispatched_escalated_answered_and_closed_through_the_api(responders, mine, t0):
    client = client_for(responders["xingqing"])
    started = client.post(
        f"{API}/incidents/{mine.pk}/dispatch/", {"at": t0.isoformat()}, "application/json"
    )
    assert started.status_code == 201, started.content
    [asked] = started.json()["dispatches"]
    assert (asked["tier"], asked["party"], asked["status"]) == (
        "contracted",
        "兴庆签约维保",
        "pending",
    )
    assert asked["deadline_at"] is not None
    assert started.json()["state"] == S.DISPATCHED

    escalate_due(t0 + dt.timedelta(minutes=5))
    detail = client.get(f"{API}/incidents/{mine.pk}/").json()
    assert [(d["tier"], d["status"]) for d in detail["dispatches"]] == [
        ("contracted", "timed_out"),
        ("nearest_maintenance", "pending"),
    ]
    second = detail["dispatches"][1]
    answered = client.post(
        f"{API}/dispatches/{second['id']}/respond/", {"answer": "responded"}, "application/json"
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["dispatch"]["status"] == "responded"
    assert answered.json()["incident"]["state"] == S.RESPONDED


def test_the_detail_reads_dispatches_in_a_constant_number_of_queries(responders, mine, t0):
    client = client_for(responders["xingqing"])
    dispatch_incident(mine.pk, acting_user=responders["xingqing"], at=t0)
    with CaptureQueriesContext(connection) as few:
        client.get(f"{API}/incidents/{mine.pk}/")
    escalate_due(t0 + dt.timedelta(minutes=5))
    escalate_due(t0 + dt.timedelta(minutes=10))
    assert Dispatch.objects.filter(incident=mine).count() == 3
    with CaptureQueriesContext(connection) as more:
        client.get(f"{API}/incidents/{mine.pk}/")
    assert len(more) == len(few)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tier": "police"}, "tier"),
        ({"unit": 2_147_480_000}, "unit"),
        ({"unit": "abc"}, "unit"),
        ({"resource": "theirs"}, "resource"),
        ({"unit": 1, "resource": 1}, "unit"),
        ({"at": "2020-01-01T00:00:00"}, "at"),
    ],
)
def test_a_bad_ask_is_a_400_naming_the_field(responders, mine, theirs, body, field):
    if body.get("resource") == "theirs":
        body = {"resource": theirs["resource"].pk}
    response = client_for(responders["xingqing"]).post(
        f"{API}/incidents/{mine.pk}/dispatch/", body, "application/json"
    )
    assert field in errors(response)
    assert not Dispatch.objects.filter(incident=mine).exists()


def test_a_closed_incident_is_not_dispatched(responders, mine):
    services.change_incident_state(mine.pk, S.FALSE_ALARM, acting_user=responders["xingqing"])
    response = client_for(responders["xingqing"]).post(
        f"{API}/incidents/{mine.pk}/dispatch/", {}, "application/json"
    )
    assert errors(response)["incident"][0]["rule"] == "incident.ended"


def test_a_bad_answer_is_a_400(responders, mine, t0):
    asked = dispatch_incident(mine.pk, acting_user=responders["xingqing"], at=t0)
    response = client_for(responders["xingqing"]).post(
        f"{API}/dispatches/{asked.pk}/respond/", {"answer": "maybe"}, "application/json"
    )
    assert "answer" in errors(response)


def test_their_incident_and_ask_are_404(responders, theirs):
    client = client_for(responders["xingqing"])
    incident, dispatch = theirs["incident"], theirs["dispatch"]
    assert client.post(f"{API}/incidents/{incident.pk}/dispatch/", {}).status_code == 404
    assert client.post(f"{API}/incidents/{incident.pk}/accident/", {}).status_code == 404
    answer = {"answer": "declined"}
    assert client.post(f"{API}/dispatches/{dispatch.pk}/respond/", answer).status_code == 404
    assert Dispatch.objects.get(pk=dispatch.pk).status == "pending"


@pytest.mark.parametrize("role", ["analyst", "enterprise"])
def test_readers_cannot_dispatch(responders, mine, role):
    response = client_for(responders[role]).post(f"{API}/incidents/{mine.pk}/dispatch/", {})
    assert response.status_code == 403


def closed(incident, responder):
    for state in (S.DISPATCHED, S.RESPONDED, S.ARRIVED, S.CLOSED):
        services.change_incident_state(incident.pk, state, acting_user=responder)


def test_a_closed_incident_with_casualties_becomes_an_accident_on_the_layer(responders, mine):
    client = client_for(responders["xingqing"])
    count = f"/tiles/accidents/count?bbox={mine.location.buffer(0.01).extent}"
    count = count.replace("(", "").replace(")", "").replace(" ", "")
    before = client.get(count).json()["count"]
    closed(mine, responders["xingqing"])
    response = client.post(
        f"{API}/incidents/{mine.pk}/accident/",
        {"kind": "电梯困人受伤", "injuries": 1},
        "application/json",
    )
    assert response.status_code == 201, response.content
    accident = Accident.objects.get(pk=response.json()["accident"])
    mine.refresh_from_db()
    assert mine.accident == accident
    assert (accident.equipment_id, accident.region_id, accident.injuries) == (
        mine.equipment_id,
        XINGQING,
        1,
    )
    assert accident.occurred_at == mine.reported_at
    assert client.get(count).json()["count"] == before + 1
    again = client.post(
        f"{API}/incidents/{mine.pk}/accident/", {"kind": "再次"}, "application/json"
    )
    assert errors(again)["incident"][0]["rule"] == "incident.converted"


def test_a_flagged_incident_qualifies_without_casualties(responders, mine):
    closed(mine, responders["xingqing"])
    response = client_for(responders["xingqing"]).post(
        f"{API}/incidents/{mine.pk}/accident/",
        {"kind": "起重机倾覆", "flagged": True},
        "application/json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("close", "body", "field", "rule"),
    [
        (False, {"kind": "困人", "injuries": 1}, "state", "incident.not_closed"),
        (True, {"kind": "困人"}, "deaths", "accident.not_qualified"),
        (True, {"kind": "困人", "injuries": -1}, "injuries", None),
    ],
)
def test_an_incident_that_does_not_qualify_is_refused(responders, mine, close, body, field, rule):
    if close:
        closed(mine, responders["xingqing"])
    response = client_for(responders["xingqing"]).post(
        f"{API}/incidents/{mine.pk}/accident/", body, "application/json"
    )
    found = errors(response)[field]
    if rule:
        assert found[0]["rule"] == rule
    assert not Accident.objects.exists()


def test_flagging_can_be_switched_off(responders, mine, settings):
    settings.RESPONSE_ACCIDENT_FLAG_ALLOWED = False
    closed(mine, responders["xingqing"])
    response = client_for(responders["xingqing"]).post(
        f"{API}/incidents/{mine.pk}/accident/",
        {"kind": "困人", "flagged": True},
        "application/json",
    )
    assert errors(response)["deaths"][0]["rule"] == "accident.not_qualified"


def test_the_console_reads_the_asks_and_whom_it_would_ask_next(responders, mine, t0):
    client = client_for(responders["xingqing"])
    before = client.get(f"{API}/incidents/{mine.pk}/dispatch/").json()
    assert (before["dispatches"], before["next"]) == (
        [],
        {"tier": "contracted", "party": "兴庆签约维保"},
    )
    asked = dispatch_incident(mine.pk, acting_user=responders["xingqing"], at=t0)
    after = client.get(f"{API}/incidents/{mine.pk}/dispatch/").json()
    assert after["next"] == {"tier": "nearest_maintenance", "party": "兴庆就近维保"}
    one = client.get(f"{API}/dispatches/{asked.pk}/respond/").json()
    assert (one["id"], one["status"], one["deadline_at"]) == (
        asked.pk,
        "pending",
        asked.deadline_at.isoformat().replace("+00:00", "Z"),
    )


def test_the_accident_rule_is_shown(responders, mine):
    answer = client_for(responders["xingqing"]).get(f"{API}/incidents/{mine.pk}/accident/").json()
    assert answer["accident"] is None
    assert answer["rule"] == {"state": "closed", "min_casualties": 1, "flag_allowed": True}
