"""Dispatches end with their incident (closed, false alarm), and the desk cancels one with a reason:
nobody waits on an ended incident, escalation never asks for it, and each ending is on the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from response import services
from response.dispatch import answer_dispatch, cancel_dispatch, dispatch_incident, escalate_due
from response.exceptions import ResponseError
from response.locate import by_code
from response.models import Dispatch, IncidentEventKind, IncidentState
from tests.conftest import XINGQING

pytestmark = pytest.mark.django_db

API = "/response/api"
S = IncidentState
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


@pytest.fixture
def call(make_equipment, make_unit, make_resources, responders, t0):
    """An elevator call in Xingqing with its contracted unit asked (pending, deadline in 5 min)."""
    maintainer = make_unit(roles=("maintenance",), name="兴庆签约维保")
    make_unit(roles=("maintenance",), name="兴庆就近维保")
    make_resources(XINGQING, 2, seed=41, resource_type="rescue_team")
    make_resources(XINGQING, 1, seed=42, resource_type="fire_station")
    device = make_equipment(rescue_id="967777", maintenance_unit=maintainer)
    responder = responders["xingqing"]
    [located] = by_code(responder, device.rescue_id)
    incident = services.report_incident(located, acting_user=responder, reported_at=t0)
    ask = dispatch_incident(incident.pk, acting_user=responder, at=t0 + MINUTE)
    return incident, ask


def rules(refused) -> list[str]:
    return [finding.rule for finding in refused.value.findings]


def cancelled_events(incident):
    return list(
        incident.events.filter(kind=IncidentEventKind.DISPATCH, note__contains="ask cancelled")
    )


@pytest.mark.parametrize("ending", [S.FALSE_ALARM, S.CLOSED])
def test_ending_an_incident_ends_its_open_asks_on_the_timeline(responders, call, t0, ending):
    incident, ask = call
    responder = responders["xingqing"]
    # Two asks open at once: the contracted unit and a rescue team asked without waiting.
    second = dispatch_incident(
        incident.pk, acting_user=responder, tier="standby_rescue", at=t0 + 2 * MINUTE
    )
    if ending == S.CLOSED:
        # Closing needs the responded → arrived path; the rescue team answers, the unit does not.
        answer_dispatch(second.pk, "responded", acting_user=responder, at=t0 + 3 * MINUTE)
        services.change_incident_state(
            incident.pk, S.ARRIVED, acting_user=responder, at=t0 + 4 * MINUTE
        )
    ended_at = t0 + 5 * MINUTE
    services.change_incident_state(incident.pk, ending, acting_user=responder, at=ended_at)

    incident.refresh_from_db()
    assert incident.dispatches.pending().count() == 0
    ask.refresh_from_db()
    assert (ask.status, ask.cancelled_at, ask.cancelled_by) == ("cancelled", ended_at, responder)
    assert ending in ask.cancel_reason
    [event, *others] = cancelled_events(incident)
    assert event.dispatch_id == ask.pk and event.at == ended_at
    assert len(others) == (0 if ending == S.CLOSED else 1)  # the team's ask, still open
    assert AuditEntry.objects.filter(action="dispatch.cancelled", object_pk=str(ask.pk)).exists()
    # The cancellations come before the state change on the timeline.
    last = incident.events.order_by("-at", "-id").first()
    assert last.to_state == ending


def test_escalation_finds_nothing_to_do_for_an_ended_incident(responders, call, t0):
    incident, ask = call
    services.change_incident_state(
        incident.pk, S.FALSE_ALARM, acting_user=responders["xingqing"], at=t0 + 2 * MINUTE
    )
    assert escalate_due(ask.deadline_at + dt.timedelta(hours=1)) == []
    assert Dispatch.objects.due(ask.deadline_at + dt.timedelta(hours=1)).count() == 0
    assert incident.dispatches.count() == 1


def test_an_answer_to_an_ended_incidents_ask_is_refused(responders, call, t0):
    incident, ask = call
    services.change_incident_state(
        incident.pk, S.FALSE_ALARM, acting_user=responders["xingqing"], at=t0 + 2 * MINUTE
    )
    with pytest.raises(ResponseError) as refused:
        answer_dispatch(ask.pk, "responded", acting_user=responders["xingqing"])
    assert rules(refused) == ["incident.ended"]


def test_the_desk_cancels_an_ask_with_a_reason_and_may_then_ask_the_next_tier(responders, call, t0):
    incident, ask = call
    responder = responders["xingqing"]
    at = t0 + 2 * MINUTE
    cancelled = cancel_dispatch(ask.pk, acting_user=responder, reason="电话无法接通", at=at)
    assert (cancelled.status, cancelled.cancelled_at, cancelled.cancel_reason) == (
        "cancelled",
        at,
        "电话无法接通",
    )
    [event] = cancelled_events(incident)
    assert "电话无法接通" in event.note and event.actor == responder
    # Nobody is asked in its place, and the runner does not ask anyone for it.
    assert incident.dispatches.count() == 1
    assert escalate_due(ask.deadline_at + MINUTE) == []
    # The desk asks the next tier itself.
    nxt = dispatch_incident(incident.pk, acting_user=responder, at=at + MINUTE)
    assert nxt.tier == "nearest_maintenance"
    # A cancelled ask takes no answer and no second cancellation.
    with pytest.raises(ResponseError) as refused:
        answer_dispatch(ask.pk, "responded", acting_user=responder)
    assert rules(refused) == ["answer.already"]
    with pytest.raises(ResponseError) as refused:
        cancel_dispatch(ask.pk, acting_user=responder, reason="再次")
    assert rules(refused) == ["dispatch.ended"]


def test_the_database_refuses_an_ask_ended_two_ways_or_cancelled_without_a_reason(call, t0):
    _, ask = call
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispatch.objects.filter(pk=ask.pk).update(
            cancelled_at=t0, cancel_reason="x", responded_at=t0
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispatch.objects.filter(pk=ask.pk).update(cancelled_at=t0, cancel_reason="")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_cancel_through_the_api(responders, call):
    incident, ask = call
    client = client_for(responders["xingqing"])
    answer = client.post(
        f"{API}/dispatches/{ask.pk}/cancel/", {"reason": "已自行解困"}, "application/json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["dispatch"]["status"], body["dispatch"]["cancel_reason"]) == (
        "cancelled",
        "已自行解困",
    )
    assert body["incident"]["dispatches"][0]["cancelled_at"] is not None


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({}, "reason", None),
        ({"reason": "   "}, "reason", "blank"),
        ({"reason": "x" * 501}, "reason", None),
        ({"reason": "ok", "at": "2999-01-01T00:00:00+08:00"}, "at", "at.future"),
    ],
)
def test_a_bad_cancel_is_a_400_naming_the_field(responders, call, body, field, rule):
    _, ask = call
    client = client_for(responders["xingqing"])
    answer = client.post(f"{API}/dispatches/{ask.pk}/cancel/", body, "application/json")
    assert answer.status_code == 400, answer.content
    problems = answer.json()["errors"][field]
    if rule:
        assert problems[0]["rule"] == rule
    assert Dispatch.objects.get(pk=ask.pk).status == "pending"


def test_another_countys_ask_is_a_404(responders, call):
    _, ask = call
    other = client_for(responders["xixia"])
    answer = other.post(f"{API}/dispatches/{ask.pk}/cancel/", {"reason": "x"}, "application/json")
    assert answer.status_code == 404
    assert Dispatch.objects.get(pk=ask.pk).status == "pending"


def test_the_migration_ends_asks_left_open_on_incidents_ended_before_it(responders, call, t0):
    from importlib import import_module

    from django.apps import apps

    incident, ask = call
    # As closing left it before: the incident ended, its ask still pending.
    type(incident).objects.filter(pk=incident.pk).update(
        state=S.FALSE_ALARM, closed_at=t0 + 3 * MINUTE
    )
    import_module("response.migrations.0004_dispatch_cancel").end_orphaned_asks(apps, None)
    ask.refresh_from_db()
    assert (ask.status, ask.cancelled_at) == ("cancelled", t0 + 3 * MINUTE)
    [event] = cancelled_events(incident)
    assert event.at == t0 + 3 * MINUTE
