"""Two responders moving one incident at once: neither change is lost (real transactions, threads).

Each thread has its own database connection, so these tests commit for real (transactional_db)
and reload the boundaries the flush after each test removes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from accounts.models import Agency, Role, User
from geo.models import Level
from response import services
from response.exceptions import ResponseError
from response.locate import at_coordinates
from response.models import Incident, IncidentState
from tests.conftest import XINGQING, inside, load_test_regions

S = IncidentState


@pytest.fixture
def responder(transactional_db) -> User:
    load_test_regions()
    agency = Agency.objects.create(
        name="兴庆区市场监督管理局", level=Level.COUNTY, region_id=XINGQING
    )
    return User.objects.create_user("concurrent", agency=agency, role=Role.RESPONDER)


@pytest.fixture
def incident(responder) -> Incident:
    point = inside(XINGQING)
    return services.report_incident(
        at_coordinates(responder, f"{point.x},{point.y}"), acting_user=responder
    )


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = work()
        except (ResponseError, Incident.DoesNotExist) as error:
            outcome["error"] = error
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def waiting_for_a_lock(pid_of_holder: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [pid_of_holder],
        )
        return cursor.fetchone()[0] > 0


def test_a_move_waits_for_the_one_in_progress_and_builds_on_it(responder, incident):
    """The second move reads the state the first one left, not the one it saw before waiting."""
    with transaction.atomic():
        # The first responder's move, in progress: the row is locked and changed, not committed.
        services.change_incident_state(incident.pk, S.DISPATCHED, acting_user=responder)
        holder = connection.connection.info.backend_pid
        thread, outcome = in_thread(
            lambda: services.change_incident_state(incident.pk, S.RESPONDED, acting_user=responder)
        )
        for _ in range(200):
            if waiting_for_a_lock(holder):
                break
            thread.join(0.025)
        assert waiting_for_a_lock(holder), "the second move did not wait for the row lock"
    thread.join(10)
    assert "error" not in outcome, outcome
    incident.refresh_from_db()
    assert incident.state == S.RESPONDED
    assert incident.dispatched_at and incident.responded_at
    steps = [(e.from_state, e.to_state) for e in incident.events.all()]
    assert steps == [("", S.REPORTED), (S.REPORTED, S.DISPATCHED), (S.DISPATCHED, S.RESPONDED)]


def test_racing_moves_leave_one_consistent_timeline(responder, incident):
    """Two threads released together, many times: the timeline stays one chain of allowed moves
    and the incident ends in the state its last entry names."""
    barrier = threading.Barrier(2)
    for round_ in range(8):
        if round_:
            point = inside(XINGQING)
            incident = services.report_incident(
                at_coordinates(responder, f"{point.x},{point.y}"), acting_user=responder
            )

        def move(to_state, pk=incident.pk):
            barrier.wait(5)
            return services.change_incident_state(pk, to_state, acting_user=responder)

        first = in_thread(lambda m=move: m(S.DISPATCHED))
        second = in_thread(lambda m=move: m(S.FALSE_ALARM))
        for thread, _ in (first, second):
            thread.join(10)
        outcomes = [first[1], second[1]]
        incident.refresh_from_db()
        events = list(incident.events.all())
        chain = [(e.from_state, e.to_state) for e in events]
        # Each entry starts where the previous one ended: nothing was overwritten.
        assert all(a[1] == b[0] for a, b in zip(chain, chain[1:], strict=False)), chain
        assert incident.state == chain[-1][1]
        succeeded = [o for o in outcomes if "result" in o]
        assert len(events) == 1 + len(succeeded)
        if len(succeeded) == 1:  # false alarm first: dispatching an ended incident is refused
            assert chain[-1] == (S.REPORTED, S.FALSE_ALARM)
            [failed] = [o for o in outcomes if "error" in o]
            assert failed["error"].findings[0].rule == "state.transition"
        else:
            assert chain[1:] == [(S.REPORTED, S.DISPATCHED), (S.DISPATCHED, S.FALSE_ALARM)]
