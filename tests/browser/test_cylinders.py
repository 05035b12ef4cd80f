"""Issue 21 as a county supervisor does it: a filling station's violation on the map, its page, and
the chain of the cylinder filled in breach; every cylinder page at desktop and phone size."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from cylinders import services as cylinder_services
from cylinders.models import FillingRecord
from maps import tiles
from registry import services
from registry.models import UnitRole
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_map import click_lnglat, open_map, rendered, tiles_missing, wait_idle
from tests.conftest import inside

pytestmark = BROWSER

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def violation_site(demo_site):
    """A station of 兴庆区 on a lapsed licence that filled an overdue cylinder this morning."""
    station = services.register_unit(
        acting_user=None, name="兴庆违规充装站", roles=[UnitRole.FILLING],
        location=inside("640104"), address="兴庆区测试路1号",
    )  # fmt: skip
    today = timezone.localdate()
    lapsed = today - dt.timedelta(days=3)
    cylinder_services.grant_filling_licence(
        station, acting_user=None, number=f"TS4640001-{lapsed.year}", valid_until=lapsed
    )
    cylinder = cylinder_services.register_cylinder(
        acting_user=None, owner=station, tag="CYL-BROWSER-0001", maker_name="宁夏华瑞气瓶有限公司",
        serial_number="B0001", made_on=dt.date(2020, 5, 1), kind="lpg", volume_l="35.5",
        working_pressure_mpa="2.1", design_life_years=8,
        next_inspection_due=today - dt.timedelta(days=10),
    )  # fmt: skip
    # An hour ago, not 08:30 today: after midnight Beijing time 08:30 is still in the future.
    moment = (timezone.localtime() - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    cylinder_services.record_fillings(station, [{
        "tag": cylinder.tag, "filled_at": moment.isoformat(), "medium": "液化石油气",
        "quantity_kg": "14.5", "check_result": "pass", "operator_certificate": "TSR880001",
    }], acting_user=None)  # fmt: skip
    tiles.CACHE.clear()
    return demo_site, station, cylinder


def test_a_county_supervisor_sees_a_violation_on_the_map_and_opens_the_chain(violation_site, page):
    site, station, cylinder = violation_site
    open_map(page, site.url, "county")
    reason = tiles_missing(page, site.url)
    if reason:
        pytest.skip(reason)
    page.set_checked("input[name=layer][value=stations]", True)
    assert page.locator("[data-legend-for=stations] span").count() >= 2
    page.evaluate(
        "([lon, lat]) => segisMap.jumpTo({center: [lon, lat], zoom: 16})",
        [station.location.x, station.location.y],
    )
    wait_idle(page)
    drawn = {f["properties"]["id"]: f for f in rendered(page, ["stations-points"])}
    assert station.pk in drawn, "the station is not drawn"
    assert drawn[station.pk]["properties"]["violations"] >= 2  # overdue, licence expired
    page.screenshot(path=ARTIFACTS / "cylinders-map-station.png")
    click_lnglat(page, *drawn[station.pk]["geometry"]["coordinates"])
    popup = page.wait_for_selector(".segis-popup[data-layer=stations]")
    assert station.name in popup.inner_text() and "违规" in popup.inner_text()
    page.screenshot(path=ARTIFACTS / "cylinders-map-popup.png")
    page.click(".segis-popup a.detail")
    page.wait_for_url(re.compile(rf"/cylinders/stations/{station.pk}/$"))
    assert page.locator("#violations").inner_text().count(cylinder.tag) >= 2
    assert page.locator("#figures").inner_text().startswith("1")  # its one cylinder, kept figures
    page.click(f"#violations a:has-text('{cylinder.tag}')")
    page.wait_for_url(re.compile(rf"/cylinders/{cylinder.pk}/$"))
    fillings = page.locator("#fillings").inner_text()
    assert "兴庆违规充装站" in fillings
    assert "超期未检" in fillings and "充装许可证过期" in fillings
    assert page.errors == [] and page.foreign_requests == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_cylinder_pages_fit_the_screen(violation_site, page, size):
    site, station, cylinder = violation_site
    page.set_viewport_size(size)
    log_in(page, site.url, "county")
    name = "desktop" if size == DESKTOP else "phone"
    for slug, path in [
        ("index", "/cylinders/"),
        ("station", f"/cylinders/stations/{station.pk}/"),
        ("station-seen", f"/cylinders/stations/{station.pk}/seen/"),
        ("station-fillings", f"/cylinders/stations/{station.pk}/fillings/"),
        ("station-overdue", f"/cylinders/stations/{station.pk}/overdue/"),
        ("station-violations", f"/cylinders/stations/{station.pk}/violations/"),
        ("station-keys", f"/cylinders/stations/{station.pk}/keys/"),
        ("chain", f"/cylinders/{cylinder.pk}/"),
        ("public", f"/p/cylinder/?tag={cylinder.tag}"),
    ]:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=ARTIFACTS / f"cylinders-{slug}-{name}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], slug
    assert page.errors == []


def test_a_supervisor_issues_a_station_key_the_station_posts_with_until_it_is_revoked(
    violation_site, page
):
    """Issue on the key page (shown once), the station's system posts a batch with it to the
    endpoint the page names, revoke, and the next batch is refused."""
    site, station, cylinder = violation_site
    log_in(page, site.url, "county")
    page.goto(site.url + f"/cylinders/stations/{station.pk}/")
    page.click("#keys-link a")
    page.click("#issue-key")
    key = page.locator("#station-key").inner_text()
    endpoint = page.locator("#endpoint").inner_text()
    assert len(key) == 40 and page.locator("#key-dates").is_visible()
    page.screenshot(path=ARTIFACTS / "cylinders-station-key.png", full_page=True)
    page.goto(site.url + f"/cylinders/stations/{station.pk}/keys/")
    assert page.locator("#station-key").count() == 0 and key not in page.content()

    # The station's system: a client of its own, no one's session, only the key.
    machine = page.context.browser.new_context()
    now = timezone.localtime().replace(second=0, microsecond=0)

    def post(minutes_ago: int):
        row = {"tag": cylinder.tag, "filled_at": (now - dt.timedelta(minutes=minutes_ago)).isoformat(),
               "medium": "液化石油气", "quantity_kg": "14.5", "check_result": "pass",
               "operator_certificate": "TSR880001"}  # fmt: skip
        return machine.request.post(
            endpoint,
            data=json.dumps({"fillings": [row]}),
            headers={"Authorization": f"Station {key}", "Content-Type": "application/json"},
        )

    answer = post(30)
    assert answer.status == 201, answer.text()
    assert answer.json()["recorded"] == 1 and answer.json()["station"] == station.pk
    page.goto(site.url + f"/cylinders/stations/{station.pk}/")
    today = FillingRecord.objects.filter(station=station, filled_at__date=timezone.localdate())
    shown = page.locator("#figures div").nth(2).inner_text()  # the day's fillings, kept figure
    assert today.count() >= 1 and shown.startswith(str(today.count())), shown

    page.goto(site.url + f"/cylinders/stations/{station.pk}/keys/")
    page.click("#revoke-key")
    page.locator("#no-key").wait_for()  # the page the revocation answers with
    assert "已吊销" in page.locator("#key-history").inner_text()
    page.screenshot(path=ARTIFACTS / "cylinders-station-key-revoked.png", full_page=True)
    page.set_viewport_size(PHONE)  # the key history fits a phone too
    page.screenshot(path=ARTIFACTS / "cylinders-station-key-revoked-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    refused = post(20)
    assert refused.status in (401, 403), refused.text()
    assert FillingRecord.objects.filter(station=station).count() == 2  # the fixture's and one
    machine.close()
    assert page.errors == []
