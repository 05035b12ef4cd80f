"""Incidents: reported where they were located, moved along the 96333 states, timeline append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry
from response import services
from response.exceptions import ResponseError
from response.locate import at_coordinates, by_code
from response.models import (
    STATE_TIMESTAMPS,
    TRANSITIONS,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
    LocatedBy,
)
from tests.conftest import XINGQING, inside

pytestmark = pytest.mark.django_db

S = IncidentState
HAPPY_PATH = [S.DISPATCHED, S.RESPONDED, S.ARRIVED, S.RELEASED, S.CLOSED]


@pytest.fixture
def elevator(make_equipment):
    return make_equipment(rescue_id="961111", address="兴庆区鼓楼南街5号")


@pytest.fixture
def incident(responders, elevator):
    [located] = by_code(responders["xingqing"], elevator.rescue_id)
    return services.report_incident(
        located,
        acting_user=responders["xingqing"],
        query=elevator.rescue_id,
        fault_code="11",
        summary="电梯困人，2人",
        reported_at=timezone.now() - dt.timedelta(minutes=10),
    )


def test_a_reported_incident_keeps_where_and_how_it_was_located(responders, elevator, incident):
    assert incident.state == S.REPORTED
    assert incident.located_by == LocatedBy.CODE
    assert incident.equipment == elevator
    assert incident.unit == elevator.use_unit
    assert incident.location == elevator.location
    assert incident.region_id == XINGQING
    assert incident.address == elevator.address  # taken from the device when none is given
    [event] = incident.events.all()
    assert (event.kind, event.to_state, event.actor) == (
        IncidentEventKind.REPORTED,
        S.REPORTED,
        responders["xingqing"],
    )
    assert AuditEntry.objects.filter(
        action="incident.reported", object_pk=str(incident.pk)
    ).exists()


def test_an_incident_keeps_the_crs_its_point_arrived_in(responders):
    point = inside(XINGQING)
    located = at_coordinates(responders["xingqing"], f"{point.x},{point.y}", "bd09")
    incident = services.report_incident(located, acting_user=responders["xingqing"])
    assert incident.source_crs == "bd09"
    assert incident.located_by == LocatedBy.COORDINATES


def test_the_happy_path_stamps_every_state_in_order(responders, incident):
    user = responders["xingqing"]
    for state in HAPPY_PATH:
        incident = services.change_incident_state(incident.pk, state, acting_user=user, note=state)
    stamps = [getattr(incident, STATE_TIMESTAMPS[s]) for s in [S.REPORTED, *HAPPY_PATH]]
    assert all(stamps) and stamps == sorted(stamps)
    events = list(incident.events.all())
    assert [(e.from_state, e.to_state) for e in events] == [
        ("", S.REPORTED),
        *zip([S.REPORTED, *HAPPY_PATH[:-1]], HAPPY_PATH, strict=True),
    ]
    assert [a for a in AuditEntry.objects.filter(model="response.Incident", object_pk=str(incident.pk)).values_list(
        "action", flat=True
    ).order_by("id")] == ["incident.reported", *(f"incident.{s}" for s in HAPPY_PATH)]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ([], S.ARRIVED),
        ([], S.CLOSED),
        ([S.DISPATCHED], S.REPORTED),
        ([S.DISPATCHED, S.RESPONDED, S.ARRIVED, S.CLOSED], S.DISPATCHED),
        ([S.FALSE_ALARM], S.DISPATCHED),
        ([S.DISPATCHED, S.RESPONDED, S.ARRIVED, S.RELEASED], S.FALSE_ALARM),
    ],
)
def test_a_move_not_allowed_from_the_current_state_is_refused(responders, incident, path, to):
    user = responders["xingqing"]
    for state in path:
        services.change_incident_state(incident.pk, state, acting_user=user)
    with pytest.raises(ResponseError) as caught:
        services.change_incident_state(incident.pk, to, acting_user=user)
    [finding] = caught.value.findings
    assert (finding.field, finding.rule) == ("state", "state.transition")
    current = Incident.objects.get(pk=incident.pk).state
    assert current in finding.message and to in finding.message
    assert Incident.objects.get(pk=incident.pk).state == (path[-1] if path else S.REPORTED)


def test_every_state_has_its_transitions_and_timestamp():
    assert set(TRANSITIONS) == set(STATE_TIMESTAMPS) == set(S.values)


def test_a_false_alarm_ends_the_incident(responders, incident):
    ended = services.change_incident_state(
        incident.pk, S.FALSE_ALARM, acting_user=responders["xingqing"], note="乘客已自行离开"
    )
    assert ended.closed_at is not None
    assert ended.allowed_states == []


def test_an_unknown_state_is_named(responders, incident):
    with pytest.raises(ResponseError) as caught:
        services.change_incident_state(incident.pk, "solved", acting_user=responders["xingqing"])
    assert caught.value.findings[0].rule == "state.unknown"


def test_times_given_after_the_fact_must_follow_the_previous_step(responders, incident):
    user = responders["xingqing"]
    with pytest.raises(ResponseError) as caught:
        services.change_incident_state(
            incident.pk,
            S.DISPATCHED,
            acting_user=user,
            at=incident.reported_at - dt.timedelta(minutes=1),
        )
    assert caught.value.findings[0].rule == "at.order"
    with pytest.raises(ResponseError) as caught:
        services.change_incident_state(
            incident.pk, S.DISPATCHED, acting_user=user, at=timezone.now() + dt.timedelta(hours=1)
        )
    assert caught.value.findings[0].rule == "at.future"
    later = incident.reported_at + dt.timedelta(minutes=3)
    moved = services.change_incident_state(incident.pk, S.DISPATCHED, acting_user=user, at=later)
    assert moved.dispatched_at == later


def test_roles_that_do_not_respond_cannot_report_or_move(responders, incident, elevator):
    analyst = responders["analyst"]
    with pytest.raises(PermissionDenied, match="handle incidents"):
        services.change_incident_state(incident.pk, S.DISPATCHED, acting_user=analyst)
    [located] = by_code(analyst, elevator.rescue_id)  # reading is allowed
    with pytest.raises(PermissionDenied):
        services.report_incident(located, acting_user=analyst)


def test_another_countys_incident_cannot_be_moved(responders, incident):
    with pytest.raises(Incident.DoesNotExist):
        services.change_incident_state(incident.pk, S.DISPATCHED, acting_user=responders["xixia"])
    assert Incident.objects.get(pk=incident.pk).state == S.REPORTED


def test_the_timeline_is_append_only(responders, incident):
    event = incident.events.get()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        IncidentEvent.objects.filter(pk=event.pk).update(note="改写")
    with pytest.raises(TypeError):
        IncidentEvent.objects.filter(pk=event.pk).delete()


def test_notes_join_the_timeline(responders, incident):
    services.add_incident_note(incident, "维保人员电话已接通", acting_user=responders["xingqing"])
    assert [e.kind for e in incident.events.all()] == [
        IncidentEventKind.REPORTED,
        IncidentEventKind.NOTE,
    ]
    with pytest.raises(ResponseError):
        services.add_incident_note(incident, "  ", acting_user=responders["xingqing"])


def test_the_database_refuses_an_ended_state_without_a_closing_time(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(state=S.CLOSED)
