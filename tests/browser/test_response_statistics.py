"""The response statistics page as a city supervisor sees it: map, totals, tables, CSV, a division."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import User
from registry.models import Unit, UnitRole
from response import services
from response.dispatch import answer_dispatch, dispatch_incident
from response.locate import at_coordinates
from response.models import IncidentState
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = BROWSER

YONGNING = "640121"
MINUTE = dt.timedelta(minutes=1)
# (county, days ago, minutes to arrival): 兴庆区 mostly within its half hour, 永宁县 within the hour.
CALLS = [
    (XINGQING, 2, 14),
    (XINGQING, 5, 26),
    (XINGQING, 9, 48),
    (XIXIA, 3, 35),
    (XIXIA, 12, 52),
    (YONGNING, 4, 45),
]


@pytest.fixture
def incidents(demo_site):
    """A few answered calls in three counties, each asked of a maintenance unit of its county."""
    actor = User.objects.get(username="city")
    now = timezone.now().replace(second=0, microsecond=0)
    asked = set()
    for code, days, minutes in CALLS:
        reported = now - dt.timedelta(days=days, hours=3)
        point = inside(code)
        incident = services.report_incident(
            at_coordinates(actor, f"{point.x},{point.y}"), acting_user=actor, reported_at=reported
        )
        # The county's own maintenance company, else one from elsewhere in the city.
        maintainers = Unit.objects.within_prefix("6401").with_role(UnitRole.MAINTENANCE)
        unit = (
            maintainers.filter(region_id=code).order_by("pk").first()
            or maintainers.order_by("pk").first()
        )
        asked.add(unit.name)
        ask = dispatch_incident(
            incident.pk, acting_user=actor, unit_id=unit.pk, at=reported + MINUTE
        )
        answer_dispatch(ask.pk, "responded", acting_user=actor, at=reported + 3 * MINUTE)
        arrived = reported + dt.timedelta(minutes=minutes)
        services.change_incident_state(
            incident.pk, IncidentState.ARRIVED, acting_user=actor, at=arrived
        )
        services.change_incident_state(
            incident.pk, IncidentState.RELEASED, acting_user=actor, at=arrived + 10 * MINUTE
        )
    # A false alarm, never arrived.
    point = inside(XINGQING)
    alarm = services.report_incident(
        at_coordinates(actor, f"{point.x},{point.y}"),
        acting_user=actor,
        reported_at=now - dt.timedelta(days=1),
    )
    services.change_incident_state(alarm.pk, IncidentState.FALSE_ALARM, acting_user=actor)
    return demo_site, asked


def test_a_city_supervisor_reads_response_statistics(incidents, page):
    site, asked = incidents
    log_in(page, site.url, "city")
    page.goto(f"{site.url}/response/statistics/")
    page.wait_for_selector(".leaflet-overlay-pane path")
    totals = page.locator("#totals .card b")
    assert totals.nth(0).inner_text() == str(len(CALLS) + 1)
    assert totals.nth(1).inner_text() == "1"
    assert totals.nth(2).inner_text() == str(len(CALLS))
    xingqing = page.locator(f'#by-region tr[data-code="{XINGQING}"] td')
    assert xingqing.nth(1).inner_text() == "4" and xingqing.nth(3).inner_text() == "3"
    # 14 and 26 minutes within the city's half hour, 48 not.
    assert xingqing.nth(7).inner_text().startswith("67 %")
    assert set(page.locator("#by-unit tbody tr td:first-child").all_inner_texts()) == asked
    # One coloured shape per county of 银川市, those without calls grey.
    assert (
        page.locator(".leaflet-overlay-pane path").count()
        == page.locator("#by-region tbody tr").count()
    )
    page.screenshot(path=ARTIFACTS / "response-statistics.png", full_page=True)

    with page.expect_download() as download:
        page.click("#csv-download")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "兴庆区" in text and "维保单位" in text

    page.select_option("select[name=region]", XINGQING)
    page.click(".stats-form button[type=submit]")
    page.wait_for_selector(".leaflet-overlay-pane path")
    assert page.locator("#by-region tbody tr").count() == 1
    assert page.locator("#totals .card b").nth(0).inner_text() == "4"
    page.screenshot(path=ARTIFACTS / "response-statistics-county.png", full_page=True)

    page.fill("input[name=from]", "2001-01-01")
    page.fill("input[name=to]", "2001-12-31")
    page.click(".stats-form button[type=submit]")
    page.wait_for_selector("#no-incidents")
    page.screenshot(path=ARTIFACTS / "response-statistics-empty.png", full_page=True)
    assert page.errors == []
    assert page.foreign_requests == []
