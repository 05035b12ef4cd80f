"""The patrol route sheet as a team prints it for its day: on screen, then as the printer sees it."""

from __future__ import annotations

import datetime as dt
import re

from accounts.models import User
from patrol import routes, services
from patrol.area import parse_area
from patrol.models import PatrolRoute
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def _route() -> PatrolRoute:
    """The demo county's plan for next week: 16 riskiest devices, two teams, two days; the demo
    inspector in team 1. The route with the most stops is the one printed."""
    county = User.objects.get(username="county")
    inspector = User.objects.get(username="inspector")
    monday = dt.date.today() + dt.timedelta(days=7 - dt.date.today().weekday())
    plan = services.create_plan(
        county,
        parse_area(county, None),
        services.parse_period({"from": monday.isoformat(), "to": (monday + dt.timedelta(days=4)).isoformat()}),
        services.parse_criteria({"limit": 16}),
    )  # fmt: skip
    routes.route_plan(
        plan.pk,
        teams=routes.parse_teams({"count": 2, "hours": 8, "members": [[inspector.pk]]}, plan, county),
        days=routes.parse_days(2, plan),
        acting_user=county,
    )  # fmt: skip
    return max(PatrolRoute.objects.filter(plan=plan, team__number=1), key=lambda r: r.stops.count())


def test_a_team_prints_its_day(demo_site, page):
    route = _route()
    stops = list(route.stops.select_related("candidate__equipment").order_by("sequence"))
    assert stops
    log_in(page, demo_site.url, "inspector")
    page.goto(f"{demo_site.url}/patrol/routes/{route.pk}/sheet/")
    page.wait_for_selector("#sheet-map .leaflet-container")
    page.wait_for_selector(".route-sheet-stop")
    page.wait_for_timeout(500)

    assert "第1组 / Team 1" in page.locator("#sheet-team").inner_text()
    assert "inspector" in page.locator("#sheet-members").inner_text()
    rows = page.locator("#sheet-stops tbody tr")
    assert rows.count() == len(stops)
    for row, stop in zip(rows.all(), stops, strict=True):
        assert stop.candidate.equipment.device_code in row.inner_text()
    # The inspector reads no personal data: every phone shown is masked.
    phones = page.locator("#sheet-stops .phone").all_inner_texts()
    assert phones and all("****" in p or p == "—" for p in phones)
    # Every stop marker is drawn inside the map's frame.
    box = page.locator("#sheet-map").bounding_box()
    markers = page.locator(".route-sheet-stop")
    numbers = [int(n) for label in markers.all_inner_texts() for n in label.split("·")]
    assert sorted(numbers) == [s.sequence for s in stops]
    for marker in markers.all():
        spot = marker.bounding_box()
        assert box["x"] <= spot["x"] and spot["x"] + spot["width"] <= box["x"] + box["width"]
        assert box["y"] <= spot["y"] and spot["y"] + spot["height"] <= box["y"] + box["height"]
    page.screenshot(path=ARTIFACTS / "patrol-route-sheet.png", full_page=True)

    page.emulate_media(media="print")
    # The printable width of A4 landscape less the page margins (277 mm at 96 dpi).
    page.set_viewport_size({"width": 1047, "height": 740})
    page.wait_for_timeout(300)
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".sheet-actions").is_visible()
    page.screenshot(path=ARTIFACTS / "patrol-route-sheet-print.png", full_page=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "patrol-route-sheet.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert 1 <= pages <= 1 + len(stops) // 3, pages

    assert page.errors == []
    assert page.foreign_requests == []
