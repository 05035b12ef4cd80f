"""Dispatch along the 96333 tiers: who is asked, in what order, and escalation when time runs out."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.models import AuditEntry
from response import services
from response.dispatch import answer_dispatch, dispatch_incident, escalate_due, pick_party
from response.exceptions import ResponseError
from response.locate import at_coordinates, by_code
from response.models import Dispatch, DispatchTier, Incident, IncidentEventKind, IncidentState
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions
from tests.response.conftest import metres

pytestmark = pytest.mark.django_db

T = DispatchTier
S = IncidentState
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def t0():
    """When the call came in: an hour ago, so every later step is still in the past."""
    return timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


@pytest.fixture
def contracted(make_unit):
    return make_unit(roles=("maintenance",), name="签约维保公司")


@pytest.fixture
def elevator(make_equipment, contracted):
    return make_equipment(rescue_id="964444", maintenance_unit=contracted)


@pytest.fixture
def maintainers(make_unit):
    """Other maintenance units in the county, and one next door that automatic picks never ask."""
    return [make_unit(roles=("maintenance",), name=f"维保{i}") for i in range(3)] + [
        make_unit(XIXIA, roles=("maintenance",), name="西夏维保")
    ]


@pytest.fixture
def teams(make_resources):
    return {
        "rescue": make_resources(XINGQING, 4, seed=21, resource_type="rescue_team"),
        "fire": make_resources(XINGQING, 3, seed=22, resource_type="fire_station"),
        "their_rescue": make_resources(XIXIA, 2, seed=23, resource_type="rescue_team"),
    }


@pytest.fixture
def incident(responders, elevator, t0):
    [located] = by_code(responders["xingqing"], elevator.rescue_id)
    return services.report_incident(
        located, acting_user=responders["xingqing"], fault_code="11", reported_at=t0
    )


def nearest(point, parties):
    """The nearest by PROJ's geodesic distance, ties by id: the reference for the picks."""
    return min(parties, key=lambda party: (metres(point, party.location), party.pk))


def test_the_first_ask_goes_to_the_contracted_unit_and_dispatches_the_incident(
    responders, incident, contracted, t0
):
    dispatch = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0 + MINUTE)
    incident.refresh_from_db()
    assert (dispatch.tier, dispatch.unit, dispatch.status) == (T.CONTRACTED, contracted, "pending")
    assert dispatch.deadline_at == t0 + 6 * MINUTE  # the default five minutes to answer
    assert (incident.state, incident.dispatched_at) == (S.DISPATCHED, t0 + MINUTE)
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == [IncidentEventKind.REPORTED, IncidentEventKind.DISPATCH, "state_change"]
    assert AuditEntry.objects.filter(action="dispatch.asked", object_pk=str(dispatch.pk)).exists()


@override_settings(RESPONSE_RESPOND_WITHIN_MIN=2)
def test_the_time_to_answer_is_a_setting(responders, incident, t0):
    dispatch = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    assert dispatch.deadline_at == t0 + 2 * MINUTE


def test_escalation_walks_every_tier_to_the_backstop(responders, incident, maintainers, teams, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    point = incident.location
    expected = [
        (T.NEAREST_MAINTENANCE, nearest(point, maintainers[:3])),
        (T.STANDBY_RESCUE, nearest(point, teams["rescue"])),
        (T.FIRE_RESCUE, nearest(point, teams["fire"])),
    ]
    now = t0
    for tier, party in expected:
        now += 5 * MINUTE
        [asked] = escalate_due(now)
        assert (asked.tier, asked.party, asked.asked_at) == (tier, party, now)
    assert Dispatch.objects.get(tier=T.FIRE_RESCUE).deadline_at is None  # the backstop waits
    assert escalate_due(now + dt.timedelta(hours=1)) == []
    statuses = list(incident.dispatches.values_list("tier", "timed_out_at"))
    assert statuses == [
        (T.CONTRACTED, t0 + 5 * MINUTE),
        (T.NEAREST_MAINTENANCE, t0 + 10 * MINUTE),
        (T.STANDBY_RESCUE, t0 + 15 * MINUTE),
        (T.FIRE_RESCUE, None),
    ]


def test_nothing_is_escalated_before_the_deadline(responders, incident, maintainers, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    assert escalate_due(t0 + 5 * MINUTE - dt.timedelta(seconds=1)) == []
    assert incident.dispatches.get().status == "pending"


def test_escalation_is_idempotent(responders, incident, maintainers, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    assert len(escalate_due(t0 + 6 * MINUTE)) == 1
    assert escalate_due(t0 + 6 * MINUTE) == []
    assert incident.dispatches.count() == 2


def test_an_incident_without_equipment_starts_at_tier_2(responders, maintainers, t0):
    point = inside(XINGQING)
    located = at_coordinates(responders["xingqing"], f"{point.x},{point.y}", None)
    incident = services.report_incident(located, acting_user=responders["xingqing"], reported_at=t0)
    dispatch = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    assert (dispatch.tier, dispatch.unit) == (
        T.NEAREST_MAINTENANCE,
        nearest(point, maintainers[:3]),
    )


def test_a_tier_with_nobody_to_ask_is_skipped(responders, incident, teams, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    [asked] = escalate_due(t0 + 5 * MINUTE)  # no other maintenance unit in the county
    assert asked.tier == T.STANDBY_RESCUE


def test_picks_stay_in_the_incidents_county(incident, maintainers, teams):
    unit = pick_party(incident, T.NEAREST_MAINTENANCE)
    team = pick_party(incident, T.STANDBY_RESCUE)
    assert (unit.region_id, team.region_id) == (XINGQING, XINGQING)


def test_another_maintenance_unit_is_never_the_contracted_one_nor_next_doors(
    incident, maintainers, contracted
):
    for unit in maintainers[:3]:
        unit.roles = ["use"]
        unit.save(update_fields=["roles"])
    # The neighbour's unit right at the incident, the contracted one not yet asked: neither is
    # "another maintenance unit of the county".
    next_door = maintainers[3]
    next_door.location = incident.location
    next_door.save(update_fields=["location"])
    assert pick_party(incident, T.NEAREST_MAINTENANCE) is None


def test_a_response_moves_the_incident_and_stops_escalation(responders, incident, maintainers, t0):
    asked = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    answer_dispatch(asked.pk, "responded", acting_user=responders["xingqing"], at=t0 + 2 * MINUTE)
    incident.refresh_from_db()
    assert (incident.state, incident.responded_at) == (S.RESPONDED, t0 + 2 * MINUTE)
    assert escalate_due(t0 + dt.timedelta(hours=1)) == []
    for state in (S.ARRIVED, S.RELEASED, S.CLOSED):
        services.change_incident_state(incident.pk, state, acting_user=responders["xingqing"])
    assert Incident.objects.get(pk=incident.pk).state == S.CLOSED


def test_a_refusal_asks_the_next_tier_at_once(responders, incident, maintainers, t0):
    asked = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    answer_dispatch(asked.pk, "declined", acting_user=responders["xingqing"], at=t0 + MINUTE)
    [first, second] = incident.dispatches.all()
    assert (first.status, first.declined_at) == ("declined", t0 + MINUTE)
    assert (second.tier, second.asked_at) == (T.NEAREST_MAINTENANCE, t0 + MINUTE)


def test_a_named_party_is_asked_at_its_own_tier(responders, incident, teams, t0):
    fire = teams["fire"][2]
    asked = dispatch_incident(
        incident.pk, acting_user=responders["xingqing"], resource_id=fire.pk, at=t0
    )
    assert (asked.tier, asked.resource) == (T.FIRE_RESCUE, fire)


def test_a_tier_named_asks_its_nearest(responders, incident, teams, t0):
    asked = dispatch_incident(
        incident.pk, acting_user=responders["xingqing"], tier=T.STANDBY_RESCUE, at=t0
    )
    assert asked.resource == nearest(incident.location, teams["rescue"])


@pytest.mark.parametrize(
    ("ask", "field", "rule"),
    [
        ({"tier": "police"}, "tier", "tier.unknown"),
        ({"unit_id": 2_147_480_000}, "unit", "unit.not_found"),
        ({"resource_id": "their_rescue"}, "resource", "resource.not_found"),
        ({"unit_id": "use_unit"}, "unit", "unit.role"),
        ({"resource_id": "rescue", "tier": T.FIRE_RESCUE}, "tier", "tier.party"),
    ],
)
def test_a_bad_ask_is_refused_naming_the_problem(
    responders, incident, elevator, teams, t0, ask, field, rule
):
    named = {"their_rescue": teams["their_rescue"][0].pk, "rescue": teams["rescue"][0].pk}
    named["use_unit"] = elevator.use_unit_id
    ask = {key: named.get(value, value) for key, value in ask.items()}
    with pytest.raises(ResponseError) as refused:
        dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0, **ask)
    [finding] = refused.value.findings
    assert (finding.field, finding.rule) == (field, rule)
    assert not incident.dispatches.exists()


def test_a_closed_incident_asks_nobody(responders, incident, t0):
    services.change_incident_state(incident.pk, S.FALSE_ALARM, acting_user=responders["xingqing"])
    with pytest.raises(ResponseError, match="ended"):
        dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)


def test_an_answer_comes_once(responders, incident, t0):
    asked = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    escalate_due(t0 + 5 * MINUTE)
    with pytest.raises(ResponseError, match="timed_out"):
        answer_dispatch(asked.pk, "responded", acting_user=responders["xingqing"])


def test_another_countys_incident_and_ask_are_missing(responders, incident, t0):
    asked = dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    with pytest.raises(Incident.DoesNotExist):
        dispatch_incident(incident.pk, acting_user=responders["xixia"])
    with pytest.raises(Dispatch.DoesNotExist):
        answer_dispatch(asked.pk, "declined", acting_user=responders["xixia"])


def test_the_command_escalates_what_is_due(responders, incident, maintainers, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    call_command("escalate_incidents", verbosity=0)  # an hour later: long past the deadline
    assert list(incident.dispatches.values_list("tier", flat=True)) == [
        T.CONTRACTED,
        T.NEAREST_MAINTENANCE,
    ]


@pytest.fixture
def committed(transactional_db):
    """Real commits, each runner on its own connection; a flush before may have removed the
    boundaries."""
    load_test_regions()


@pytest.mark.django_db(transaction=True)
def test_two_runners_never_double_escalate(committed, responders, incident, maintainers, t0):
    dispatch_incident(incident.pk, acting_user=responders["xingqing"], at=t0)
    barrier, results = threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            results.append(len(escalate_due(t0 + 6 * MINUTE)))
        finally:
            connection.close()

    runners = [threading.Thread(target=run) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert sorted(results) == [0, 1]
    assert incident.dispatches.filter(tier=T.NEAREST_MAINTENANCE).count() == 1
