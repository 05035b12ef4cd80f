"""The response console and the incident sheet on a phone (390×844) and a portrait tablet
(820×1180): the map first with the panel as a sheet under it, nothing wider than the screen, and a
call handled there — located, reported, an ask cancelled with a reason, the next one ended by a
false alarm. Also: hazards named by kind, errors in words, a failed search clears the last place.
Screenshots in tests/artifacts/ (and at 1440×900)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.gis.geos import Point

from registry import services as registry_services
from registry.models import Equipment
from response.models import Dispatch, Incident, IncidentState
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

SIZES = {"phone": (390, 844), "tablet": (820, 1180)}
KIND_CODE = re.compile(r"^[0-9A-F]000$")


def the_elevator() -> Equipment:
    """A demo elevator with a rescue ID and a located contracted maintenance unit, and a boiler
    registered next to it: a hazard within the boilers' radius for the list to name."""
    elevator = (
        Equipment.objects.filter(
            region_id="640104",
            kind="3000",
            location__isnull=False,
            maintenance_unit__location__isnull=False,
        )
        .exclude(rescue_id="")
        .order_by("id")
        .first()
    )
    registry_services.register_equipment(
        acting_user=None,
        variety_code="1310",
        use_unit=elevator.use_unit,
        device_code="1310T1234202009902",
        location=Point(elevator.location.x + 0.001, elevator.location.y + 0.0005, srid=4326),
        commissioned_on=dt.date(2020, 6, 1),
    )
    return elevator


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def assert_fits_the_screen(page) -> None:
    """Nothing makes the page scroll sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"response-console-{name}.png"))


@pytest.mark.parametrize("size", SIZES)
def test_a_call_handled_on_a_small_screen(demo_site, page, size):
    width, height = SIZES[size]
    elevator = the_elevator()
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/")
    page.wait_for_function("() => window.segisConsoleMap && window.segisConsoleMap.loaded()")

    # The map first, a usable height; the panel a sheet under it; nothing sideways.
    map_box, panel = box(page, "#console-map"), box(page, ".console .mapside")
    assert map_box["width"] == pytest.approx(width, abs=1)
    assert map_box["height"] >= 0.3 * height
    assert panel["y"] >= map_box["y"] + map_box["height"] - 12  # the sheet overlaps by its lip
    assert panel["y"] + 100 < height  # its top and the search box are on the first screen
    assert page.locator("#locate-input").is_visible()
    assert_fits_the_screen(page)

    page.fill("#locate-input", elevator.rescue_id)
    page.click("#locate-form button[type=submit]")
    page.locator("#card .device-card").wait_for()
    page.wait_for_selector("#hazards li .tag[data-kind]")
    # Hazards are named by kind, not by their code.
    tags = page.locator("#hazards .tag[data-kind]")
    texts = [tags.nth(i).inner_text() for i in range(tags.count())]
    assert texts and not [t for t in texts if KIND_CODE.match(t.strip())], texts
    assert "锅炉" in texts
    assert_fits_the_screen(page)
    shot(page, f"{size}-1-located")

    # The handle gives the sheet more room, and back.
    before = box(page, "#console-map")["height"]
    page.click("#sheet-handle")
    page.wait_for_function(
        f"() => document.getElementById('console-map').getBoundingClientRect().height < {before} - 50"
    )
    page.click("#sheet-handle")

    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#incident .state[data-state=reported]")
    incident = Incident.objects.get()
    page.click("#dispatch-next")
    asked = page.locator(".dispatch[data-tier=contracted][data-status=pending]")
    asked.locator(".countdown").wait_for()

    # The desk cancels the ask: a reason is asked for, then the ask ends without an answer.
    asked.locator("button.cancel-ask").click()
    asked.locator(".cancel-form input[name=reason]").fill("电话无法接通")
    asked.locator(".cancel-form button[type=submit]").click()
    cancelled = page.locator(".dispatch[data-tier=contracted][data-status=cancelled]")
    cancelled.wait_for()
    assert "电话无法接通" in cancelled.inner_text()
    assert cancelled.locator(".countdown, .answers").count() == 0
    assert_fits_the_screen(page)
    shot(page, f"{size}-2-cancelled")

    # The next tier is asked; then the call proves a false alarm: that ask ends with it.
    page.click("#dispatch-next")
    page.wait_for_selector(".dispatch[data-status=pending] .countdown")
    page.click("#incident .moves button[data-state=false_alarm]")
    page.wait_for_selector("#incident .state[data-state=false_alarm]")
    assert page.locator("#incident .dispatch[data-status=pending]").count() == 0
    assert page.locator("#incident .countdown, #incident .answers").count() == 0
    assert page.locator("#dispatch-next").count() == 0
    assert "ask cancelled" in page.inner_text("#incident .timeline")
    shot(page, f"{size}-3-false-alarm")

    assert [d.status for d in Dispatch.objects.filter(incident=incident)] == [
        "cancelled",
        "cancelled",
    ]
    incident.refresh_from_db()
    assert incident.state == IncidentState.FALSE_ALARM
    assert page.errors == []


def test_a_failed_search_clears_the_last_place_and_speaks_in_words(demo_site, page):
    elevator = the_elevator()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/")
    page.fill("#locate-input", elevator.rescue_id)
    page.click("#locate-form button[type=submit]")
    page.locator("#card .device-card").wait_for()

    page.fill("#locate-input", "没有这个单位名称")
    page.click("#locate-form button[type=submit]")
    error = page.locator("#locate-errors p[data-field=q]")
    error.wait_for()
    # The message, not the parameter's name, comes first.
    assert not error.inner_text().startswith("q")
    assert page.locator("#place").is_hidden() and page.locator("#around").is_hidden()
    assert page.locator("#card .device-card").count() == 0
    page.wait_for_function(
        "() => window.segisConsoleMap.querySourceFeatures('places').length === 0"
        " && window.segisConsoleMap.querySourceFeatures('circles').length === 0"
    )
    shot(page, "phone-not-found")
    assert [e for e in page.errors if "status of 400" not in e] == []


@pytest.mark.parametrize("size", {**SIZES, "desktop": (1440, 900)})
def test_the_incident_sheet_fits_the_screen(demo_site, page, size):
    from tests.browser.test_incident_sheet import _incident

    incident, _device, _boiler = _incident()
    width, height = {**SIZES, "desktop": (1440, 900)}[size]
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/incidents/{incident.pk}/sheet/")
    page.wait_for_selector("#sheet-map .leaflet-container")
    assert_fits_the_screen(page)
    sheet_map = box(page, "#sheet-map")
    assert sheet_map["x"] >= 0 and sheet_map["x"] + sheet_map["width"] <= width
    assert sheet_map["height"] >= 200
    facts, arrival = box(page, "#sheet-facts"), box(page, "#sheet-arrival")
    if width < 800:
        assert arrival["y"] >= facts["y"] + facts["height"] - 1  # stacked, not squeezed
    page.screenshot(path=str(ARTIFACTS / f"incident-sheet-{size}.png"), full_page=True)
    assert page.errors == []
