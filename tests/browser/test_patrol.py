"""A patrol planned end to end by the demo county supervisor: the form → the plan's routes on the map
→ a stop moved to another team's day → GPX parsed back → a route's printable sheet → a result
recorded at a stop. Screenshots in tests/artifacts/patrol-*.png."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from lxml import etree

from geo.models import Region
from patrol.models import PatrolPlan, PatrolRoute, PatrolStop
from patrol.routes import place_of
from registry.models import Equipment
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.patrol.moves import roomiest_move

pytestmark = BROWSER

GPX = "{http://www.topografix.com/GPX/1/1}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"patrol-{name}.png"), full_page=False)


def routes_in_db(plan: PatrolPlan) -> list[PatrolRoute]:
    return list(plan.routes.select_related("team").order_by("day", "team__number"))


def stop_ids(route: PatrolRoute) -> list[int]:
    return list(route.stops.order_by("sequence").values_list("pk", flat=True))


def listed_stop_ids(page, route: PatrolRoute) -> list[int]:
    return [
        int(s)
        for s in page.eval_on_selector_all(
            f'.route[data-route="{route.pk}"] .stop', "items => items.map(i => i.dataset.stop)"
        )
    ]


def map_counts(page) -> dict:
    return page.evaluate(
        """() => {
            const map = window.segisPatrolMap;
            const ids = (source, key) => new Set(map.querySourceFeatures(source).map((f) => f.properties[key]));
            return {lines: ids('lines', 'route').size, stops: ids('stops', 'id').size,
                    rendered: map.queryRenderedFeatures({layers: ['stops']}).length};
        }"""
    )


def test_a_patrol_planned_moved_exported_and_recorded(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.goto(f"{demo_site.url}/patrol/")
    page.wait_for_selector("#plan-rows tr[data-plan], #plan-rows td")
    assert page.errors == []
    page.wait_for_selector("body[data-area-map-ready=true]", state="attached")

    # A bad form first: the API's answer lands by its field.
    page.fill("input[name=teams]", "0")
    page.click("#plan-submit")
    page.wait_for_selector('[data-error-for="teams"]:not(:empty)')
    assert PatrolPlan.objects.count() == 0
    shot(page, "1-form-error")

    # 24 stops take about 20 hours: in 12-hour days, however the solver splits them, some day
    # keeps a couple of hours for the stop moved below (in 10-hour days both may come out full).
    page.fill("input[name=teams]", "2")
    page.fill("input[name=hours]", "12")
    page.fill("input[name=days]", "2")
    page.fill("input[name=limit]", "24")
    page.click("#plan-submit")
    page.wait_for_url(re.compile(r"/patrol/plans/\d+/$"), timeout=60_000)
    plan = PatrolPlan.objects.get()
    assert plan.region_id == "640104"
    assert plan.starts_on.weekday() == 0 and (plan.ends_on - plan.starts_on).days == 27

    # The plan page: every route in the list and on the map.
    page.wait_for_selector(".route .stop")
    page.wait_for_selector("body[data-patrol-map-ready=true]", state="attached")
    routes = routes_in_db(plan)
    assert len(routes) >= 2
    assert {r.team.number for r in routes} <= {1, 2}
    days = {r.day for r in routes}
    for route in routes:
        assert listed_stop_ids(page, route) == stop_ids(route)
    stops_total = PatrolStop.objects.filter(route__plan=plan).count()
    counts = map_counts(page)
    assert (counts["lines"], counts["stops"]) == (len(routes), stops_total)
    assert counts["rendered"] > 0
    teams = {r.team.number for r in routes}
    # Titles (team, label), a swatch per team, a number per day, the team start.
    assert page.locator("#day-legend span").count() == len(teams) + len(days) + 3
    # One colour per team whatever the day, and each stop labelled day·order: two teams out on the
    # same day never look alike.
    drawn = page.evaluate(
        """() => window.segisPatrolMap.querySourceFeatures('stops').map((f) => f.properties)"""
    )
    colours = {}
    for stop in drawn:
        colours.setdefault(stop["team"], set()).add(stop["colour"])
    assert all(len(c) == 1 for c in colours.values()) and len(colours) == len(teams)
    assert len({next(iter(c)) for c in colours.values()}) == len(teams)
    ordered_days = sorted(days)
    for route in routes:
        for stop in route.stops.all():
            labels = {d["label"] for d in drawn if d["id"] == stop.pk}
            assert labels == {f"{ordered_days.index(route.day) + 1}·{stop.sequence}"}
    shot(page, "2-plan")

    # Move a stop to another route, picked from the routes as the solver gave them (read through
    # the API with the page's cookies): the move that leaves that day the most time to spare.
    listed = page.request.get(f"{demo_site.url}/patrol/api/plans/{plan.pk}/routes/")
    assert listed.status == 200, f"the routes answered {listed.status}"
    move = roomiest_move(listed.json()["routes"], keep_sources=True)
    assert move.spare > 1, "no stop fits in another day: the solver filled every day"
    moved, position = move.stop["id"], move.position
    other = PatrolRoute.objects.select_related("team").get(pk=move.target["id"])
    item = page.locator(f'.stop[data-stop="{moved}"]')

    # Clicking its circle on the map picks it out in the list.
    where = place_of(PatrolStop.objects.get(pk=moved).candidate)
    box = page.locator("#plan-map canvas").bounding_box()
    x, y = page.evaluate(
        "([lon, lat]) => Object.values(window.segisPatrolMap.project([lon, lat]))",
        [where.x, where.y],
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector(".stop.selected")
    picked = int(page.get_attribute(".stop.selected", "data-stop"))
    at_that_spot = page.evaluate(
        "([x, y]) => window.segisPatrolMap.queryRenderedFeatures([x, y], {layers: ['stops']}).map((f) => f.properties.id)",
        [x, y],
    )
    assert picked in at_that_spot and moved in at_that_spot
    item.locator("[data-action=move]").click()
    item.locator("select[name=route]").select_option(str(other.pk))
    item.locator("input[name=position]").fill(str(position))
    item.locator(".move-form button[type=submit]").click()
    # The stop shows at its new place, or a refusal shows by it: either ends the wait.
    page.wait_for_function(
        """([route, stop, at]) =>
            document.querySelectorAll(`.route[data-route='${route}'] .stop`)[at]?.dataset.stop
                === String(stop)
            || !!document.querySelector(`.stop[data-stop='${stop}'] .stop-errors p`)""",
        arg=[other.pk, moved, position - 1],
    )
    stop = PatrolStop.objects.select_related("route").get(pk=moved)
    if stop.route_id != other.pk:
        rule = page.locator(f'.stop[data-stop="{moved}"] .stop-errors p').get_attribute("data-rule")
        pytest.fail(f"the move was refused ({rule}) with {move.spare:.0f} minutes to spare by hand")
    assert stop.sequence == position
    for route in routes_in_db(plan):
        assert listed_stop_ids(page, route) == stop_ids(route)
    page.wait_for_function(
        "(stop) => document.querySelector(`.stop[data-stop='${stop}']`).classList.contains('selected')",
        arg=moved,
    )
    counts = map_counts(page)
    assert counts["stops"] == stops_total
    shot(page, "3-moved")

    # An overfull day is refused with the rule named, and nothing moves.
    working = other.team.working_minutes
    other.team.working_minutes = 1
    other.team.save(update_fields=["working_minutes"])
    first = next(r for r in routes_in_db(plan) if r.pk != other.pk)  # a day the move left a stop
    victim = stop_ids(first)[0]
    item = page.locator(f'.stop[data-stop="{victim}"]')
    item.locator("[data-action=move]").click()
    item.locator("select[name=route]").select_option(str(other.pk))
    item.locator(".move-form button[type=submit]").click()
    error = item.locator('.stop-errors p[data-rule="route.overtime"]')
    error.wait_for()
    assert "分钟" in error.inner_text()
    assert PatrolStop.objects.get(pk=victim).route_id == first.pk
    shot(page, "4-overtime")
    other.team.working_minutes = working
    other.team.save(update_fields=["working_minutes"])

    # GPX of the other route, with the page's own cookies: its waypoints are the stops in order.
    href = page.locator(f'.route[data-route="{other.pk}"] a:text-is("GPX")').get_attribute("href")
    response = page.request.get(f"{demo_site.url}{href}")
    assert response.status == 200, f"GPX answered {response.status}"
    document = etree.fromstring(response.body())
    waypoints = [
        (float(w.get("lon")), float(w.get("lat")))
        for w in document.iter(f"{GPX}wpt")
        if w.findtext(f"{GPX}type") not in ("start", "end")
    ]
    expected = []
    for stop in PatrolStop.objects.filter(route=other).select_related("candidate__equipment"):
        place = place_of(stop.candidate)
        expected.append((stop.sequence, (place.x, place.y)))
    expected = [where for _, where in sorted(expected)]
    assert waypoints == [pytest.approx(w, abs=1e-6) for w in expected]
    moved_place = place_of(PatrolStop.objects.get(pk=moved).candidate)
    assert waypoints[position - 1] == pytest.approx((moved_place.x, moved_place.y), abs=1e-6)

    # The printable sheet of that route opens in a new tab with its stops.
    with page.context.expect_page() as opened:
        page.locator(f'.route[data-route="{other.pk}"] .sheet-link').click()
    sheet = opened.value
    foreign = []
    sheet.on(
        "request",
        lambda r: (
            urlparse(r.url).hostname not in ("localhost", "127.0.0.1", None)
            and foreign.append(r.url)
        ),
    )
    sheet.wait_for_load_state("networkidle")
    assert "/patrol/routes/" in sheet.url
    text = sheet.inner_text("body")
    moved_code = PatrolStop.objects.get(pk=moved).candidate.equipment.device_code
    assert moved_code in text
    sheet.screenshot(path=str(ARTIFACTS / "patrol-5-sheet.png"), full_page=True)
    sheet.close()
    assert foreign == []

    # A result at a stop: visited, with findings, shown in place of the form.
    target = stop_ids(first)[0]
    item = page.locator(f'.stop[data-stop="{target}"]')
    item.locator("[data-action=result]").click()
    item.locator("textarea[name=findings]").fill("维保记录缺失，已责令整改")
    item.locator(".result-form button[type=submit]").click()
    # The plan's days are ahead: recording today asks first whether this is the stop meant.
    item.locator(".stop-errors [data-rule='on.other_day']").wait_for()
    item.locator(".stop-errors button[data-confirm=other_day]").click()
    page.locator(f'.stop[data-stop="{target}"] .result').wait_for()
    shown = page.locator(f'.stop[data-stop="{target}"] .result').inner_text()
    assert "已到场" in shown and "维保记录缺失" in shown
    stop = PatrolStop.objects.get(pk=target)
    assert (stop.visited, stop.findings, stop.recorded_by.username) == (
        True,
        "维保记录缺失，已责令整改",
        "county",
    )
    assert page.locator('[data-fact="visited"]').inner_text() == "1"
    page.locator(f'.stop[data-stop="{target}"]').scroll_into_view_if_needed()
    shot(page, "6-result")

    # Back on the plans page the plan is listed.
    page.goto(f"{demo_site.url}/patrol/")
    page.wait_for_selector(f'#plan-rows tr[data-plan="{plan.pk}"]')
    shot(page, "7-plans")

    # The plan on a phone: team colours and day·order labels, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_site.url}/patrol/plans/{plan.pk}/")
    page.wait_for_selector(".route .stop")
    page.wait_for_selector("body[data-patrol-map-ready=true]", state="attached")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "8-plan-phone")

    # The browser logs the refusals asked for above (400 on plans/, on move/, and the result for
    # another day's stop before it was confirmed); nothing else.
    expected_400 = ("/patrol/api/plans/", "/move/", "/result/")
    assert [e for e in page.errors if not ("400" in e and any(p in e for p in expected_400))] == []
    assert page.foreign_requests == []


def draw(page, points: list[tuple[float, float]]) -> None:
    """Click the corners on the area map, then double-click the last one to close the polygon."""
    box = page.locator("#area-map canvas").bounding_box()
    page.click("#draw-start")
    for x, y in points[:-1]:
        page.mouse.click(box["x"] + x, box["y"] + y)
    page.mouse.dblclick(box["x"] + points[-1][0], box["y"] + points[-1][1])


def test_a_polygon_drawn_on_the_map_is_the_plans_area(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.goto(f"{demo_site.url}/patrol/")
    page.wait_for_selector("body[data-area-map-ready=true]", state="attached")
    page.check("input[name=area_mode][value=polygon]")
    box = page.locator("#area-map canvas").bounding_box()

    # Round the whole map: it reaches past the county, and the form says so by the area field.
    w, h = box["width"], box["height"]
    draw(page, [(5, 5), (w - 5, 5), (w - 5, h - 5), (5, h - 5)])
    assert page.input_value("input[name=polygon]").startswith('{"type":"Polygon"')
    page.click("#plan-submit")
    error = page.locator('[data-error-for="area"][data-rule="area.outside_jurisdiction"]')
    error.wait_for()
    assert "辖区" in error.inner_text()
    assert PatrolPlan.objects.count() == 0
    shot(page, "8-polygon-outside")

    # A small triangle round a device of the county: the plan covers that device.
    # The device deepest inside the county: the triangle round it (several km at this zoom)
    # stays inside.
    edge = Region.objects.get(code="640104").boundary.boundary
    device = max(
        Equipment.objects.filter(region_id="640104", location__isnull=False, status="in_use"),
        key=lambda e: edge.distance(e.location),
    )
    x, y = page.evaluate(
        "([lon, lat]) => Object.values(window.segisPatrolAreaMap.project([lon, lat]))",
        [device.location.x, device.location.y],
    )
    page.click("#draw-clear")
    draw(page, [(x - 12, y + 10), (x + 12, y + 10), (x, y - 14)])
    page.fill("input[name=min_score]", "0")
    page.fill("input[name=teams]", "1")
    page.fill("input[name=days]", "1")
    page.click("#plan-submit")
    page.wait_for_url(re.compile(r"/patrol/plans/\d+/$"), timeout=60_000)
    plan = PatrolPlan.objects.get()
    assert plan.area.covers(device.location)
    assert plan.candidates.filter(equipment=device).exists()
    page.wait_for_selector(".route .stop")
    page.wait_for_selector("body[data-patrol-map-ready=true]", state="attached")
    assert map_counts(page)["rendered"] > 0
    shot(page, "9-polygon-plan")
    assert [e for e in page.errors if not ("400" in e and "/patrol/api/plans/" in e)] == []
    assert page.foreign_requests == []
