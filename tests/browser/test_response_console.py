"""A 96333 call played end to end in the response console: rescue ID → the elevator on the map →
ask the contracted maintenance unit → it does not answer in time, the next tier is asked → that
one answers → arrived → released → closed. Screenshots in tests/artifacts/."""

from __future__ import annotations

import time

import pytest

from registry.models import Equipment
from response.dispatch import escalate_due
from response.models import Dispatch, DispatchTier, Incident, IncidentState
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

RESPONDER_COUNTY = "640104"
DEADLINE_S = 3


def the_elevator() -> Equipment:
    """An elevator of the responder's county with a rescue ID and a located maintenance unit."""
    return (
        Equipment.objects.filter(
            region_id=RESPONDER_COUNTY,
            kind="3000",
            location__isnull=False,
            maintenance_unit__location__isnull=False,
        )
        .exclude(rescue_id="")
        .order_by("id")
        .first()
    )


def features_on_map(page, role: str) -> list[tuple[float, float]]:
    """Where the map draws the features of a role. A GeoJSON source repeats a feature in every
    tile it touches, each copy snapped to that tile's grid — a coarser grid for a tile of a lower
    zoom still held while the map flies in — so copies within about ten metres are one."""
    page.wait_for_function(
        "() => window.segisConsoleMap.loaded() && !window.segisConsoleMap.isMoving()"
    )
    found = page.evaluate(
        """(role) => window.segisConsoleMap.getStyle() && window.segisConsoleMap
            .querySourceFeatures('places').filter((f) => f.properties.role === role)
            .map((f) => f.geometry.coordinates)""",
        role,
    )
    spots: list[tuple[float, float]] = []
    for x, y in found:
        if not any(abs(x - sx) < 1e-4 and abs(y - sy) < 1e-4 for sx, sy in spots):
            spots.append((x, y))
    return spots


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"response-console-{name}.png"))


def test_a_96333_call_end_to_end(demo_site, page, settings):
    # A deadline of seconds rather than minutes: the escalation is real, the wait short.
    settings.RESPONSE_RESPOND_WITHIN_MIN = DEADLINE_S / 60
    elevator = the_elevator()
    assert elevator is not None, "the demo county has no elevator with a rescue ID"

    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/")
    page.fill("#locate-input", elevator.rescue_id)
    page.click("#locate-form button[type=submit]")

    # The elevator, its units and contacts, and what is around it.
    card = page.locator("#card .device-card")
    card.wait_for()
    assert elevator.device_code in card.inner_text()
    assert elevator.maintenance_unit.name in card.inner_text()
    page.wait_for_selector("#resources li[data-type]")
    page.wait_for_function("window.segisConsoleMap.querySourceFeatures('places').length > 0")
    [spot] = features_on_map(page, "incident")
    assert spot == pytest.approx((elevator.location.x, elevator.location.y), abs=1e-4)
    shot(page, "1-located")

    # Report, then ask the first tier: the contracted maintenance unit.
    page.fill("textarea[name=summary]", "电梯困人，2人")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#incident .state[data-state=reported]")
    incident = Incident.objects.get()
    assert (incident.equipment_id, incident.fault_code) == (elevator.pk, "11")
    assert page.get_attribute("#dispatch-next", "data-tier") == DispatchTier.CONTRACTED
    page.click("#dispatch-next")
    page.wait_for_selector(".dispatch[data-tier=contracted][data-status=pending] .countdown")
    shot(page, "2-dispatched")

    # Nobody answers: past the deadline the runner times the ask out and asks the next tier, and
    # the console shows it on its next poll.
    first = Dispatch.objects.get()
    time.sleep(max(0.0, (first.deadline_at - first.asked_at).total_seconds()) + 0.5)
    [second] = escalate_due()
    assert second.tier != DispatchTier.CONTRACTED  # the next tier with anyone to ask
    page.wait_for_selector(".dispatch[data-tier=contracted][data-status=timed_out]", timeout=15_000)
    page.wait_for_selector(f".dispatch[data-tier={second.tier}][data-status=pending]")
    assert second.party.name in page.inner_text("#incident .dispatches")
    shot(page, "3-escalated")

    # The second party answers, arrives, releases the passengers; the call is closed.
    page.click(f".dispatch[data-tier={second.tier}] .answers button:not(.secondary)")
    page.wait_for_selector("#incident .state[data-state=responded]")
    for move in (IncidentState.ARRIVED, IncidentState.RELEASED, IncidentState.CLOSED):
        page.click(f"#incident .moves button[data-state={move}]")
        page.wait_for_selector(f"#incident .state[data-state={move}]")
    shot(page, "4-closed")

    incident.refresh_from_db()
    assert incident.state == IncidentState.CLOSED
    assert incident.reported_at <= incident.dispatched_at <= incident.responded_at
    assert (
        incident.responded_at <= incident.arrived_at <= incident.released_at <= incident.closed_at
    )
    assert [(d.tier, d.status) for d in incident.dispatches.order_by("asked_at", "id")] == [
        (DispatchTier.CONTRACTED, "timed_out"),
        (second.tier, "responded"),
    ]
    # The closed incident is no longer among the open ones.
    page.wait_for_function(
        f"!document.querySelector('#incident-list [data-incident=\"{incident.pk}\"]')",
        timeout=20_000,
    )
    assert page.errors == []
    assert page.foreign_requests == []


def test_swapped_coordinates_are_named_and_the_swap_offered(demo_site, page):
    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/")
    page.fill("#locate-input", "38.47, 106.27")
    page.click("#locate-form button[type=submit]")
    error = page.locator("#locate-errors [data-rule='location.swapped']")
    error.wait_for()
    shot(page, "swapped")
    error.locator("button").click()
    page.wait_for_selector("#place:not([hidden])")
    assert page.input_value("#locate-input").replace(" ", "").startswith("106.27")
    # Chromium logs the refused request itself; nothing else may go wrong.
    assert [e for e in page.errors if "status of 400" not in e or "/locate/" not in e] == []


def test_readers_see_the_console_without_the_controls(demo_site, page):
    log_in(page, demo_site.url, "analyst")
    page.goto(f"{demo_site.url}/response/")
    page.wait_for_selector("#incident-list li")
    assert page.locator("#report-form").is_hidden()
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
