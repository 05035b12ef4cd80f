"""Issue 23 as people do it: a unit applies for a licence, the county supervisor asks for a
change, the unit amends, the supervisor accepts and approves; the licence shows on the map layer;
a device installed by an unlicensed unit is a finding, listed and on the map, as is a station that
filled without a filling licence. Pages at desktop and phone size."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from accounts.demo import DEMO_PASSWORD
from accounts.models import Agency, Role, User
from cylinders.models import StationDay
from licensing.models import Licence, UnitAccount
from maps import tiles
from registry import services
from registry.models import LifecycleEvent, UnitRole
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_map import open_map, rendered, tiles_missing, wait_idle
from tests.conftest import inside

pytestmark = BROWSER

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def licensing_site(demo_site):
    """An installer of 兴庆区 with an enterprise login of its own, a device it installed, and a
    filling station of 兴庆区 that filled last week with no filling licence."""
    unit = services.register_unit(
        acting_user=None, name="兴庆电梯安装有限公司", roles=[UnitRole.INSTALLATION],
        location=inside("640104"), address="兴庆区测试路9号",
    )  # fmt: skip
    agency = Agency.objects.filter(region_id="640104").order_by("id").first()
    user = User.objects.create_user("installer", password=DEMO_PASSWORD, agency=agency,
                                    role=Role.ENTERPRISE)  # fmt: skip
    UnitAccount.objects.create(user=user, unit=unit)
    device = services.register_equipment(
        acting_user=None, variety_code="3110", use_unit=unit, location=inside("640104"),
        device_code="3110T1234202699001", commissioned_on=timezone.localdate() - dt.timedelta(days=30),
    )[0]  # fmt: skip
    LifecycleEvent.objects.create(equipment=device, kind="installation", unit=unit,
                                  occurred_on=timezone.localdate() - dt.timedelta(days=40))  # fmt: skip
    station = services.register_unit(
        acting_user=None, name="兴庆无证充装站", roles=[UnitRole.FILLING],
        location=inside("640104"), address="兴庆区测试路11号",
    )  # fmt: skip
    StationDay.objects.create(station=station, day=timezone.localdate() - dt.timedelta(days=7),
                              fillings=20, region_id="640104")  # fmt: skip
    tiles.CACHE.clear()
    return demo_site, unit, device, station


def _shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"licensing-{name}.png", full_page=True)


def _log_out(page) -> None:
    page.context.clear_cookies()


def test_apply_change_amend_approve_and_the_map(licensing_site, page):
    site, unit, device, station = licensing_site
    page.set_viewport_size(DESKTOP)
    # The supervisor first sees the unlicensed installation.
    log_in(page, site.url, "county")
    page.goto(site.url + "/licensing/findings/")
    # The newest first, but the generated registry has findings of its own: page on until found.
    while device.device_code not in page.locator("#findings").inner_text():
        page.click(".pager a:has-text('下一页')")
        page.wait_for_load_state("networkidle")
    row = page.locator(f"#findings tr:has-text('{device.device_code}')").inner_text()
    assert unit.name in row and "安装" in row
    # 查处: the supervisor records what was done; the row then says so (the same page again).
    cell = page.locator(f"#findings tr:has-text('{device.device_code}') td.acted")
    cell.locator("input[name=action]").fill("责令停止安装，立案调查")
    cell.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    row = page.locator(f"#findings tr:has-text('{device.device_code}')").inner_text()
    assert "已查处" in row and "责令停止安装" in row
    _shot(page, "findings-desktop")
    _log_out(page)

    # The unit applies, for elevators grade B.
    log_in(page, site.url, "installer")
    page.click("header .menu-head:has-text('监管')")
    page.click("header nav a:has-text('许可')")
    page.click("#apply")
    page.select_option("#kind-pick", "installation")
    page.wait_for_load_state("networkidle")
    page.check("input[name=scope][value='3000:B']")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/licensing/applications/\d+/$"))
    assert page.locator("#state").get_attribute("data-state") == "submitted"
    application_url = page.url
    _shot(page, "applied-desktop")
    _log_out(page)

    # The supervisor asks for a change.
    log_in(page, site.url, "county")
    page.goto(application_url)
    page.fill("#reasons-input", "请补充A级安装业绩 / add grade A installation records")
    page.click("#request-changes")
    page.wait_for_selector("#done")
    assert page.locator("#state").get_attribute("data-state") == "changes_requested"
    _log_out(page)

    # The unit amends: grade A instead.
    log_in(page, site.url, "installer")
    page.goto(application_url)
    assert "补充A级" in page.locator("#reasons").inner_text()
    page.uncheck("input[name=scope][value='3000:B']")
    page.check("input[name=scope][value='3000:A']")
    page.click("#resubmit")
    page.wait_for_selector("#done")
    assert page.locator("#state").get_attribute("data-state") == "submitted"
    _log_out(page)

    # The supervisor accepts, then approves with the licence's number.
    log_in(page, site.url, "county")
    page.goto(application_url)
    page.click("#accept")
    page.wait_for_selector("#done")
    expires = timezone.localdate().replace(year=timezone.localdate().year + 4)
    page.fill("#number", f"TS3640999-{expires.year}")
    page.click("#approve")
    page.wait_for_selector("#licence")
    assert page.locator("#state").get_attribute("data-state") == "approved"
    steps = page.locator("#steps").inner_text()
    assert steps.count("county") == 3 and steps.count("installer") == 2
    _shot(page, "approved-desktop")
    licence = Licence.objects.get(number=f"TS3640999-{expires.year}")
    assert licence.unit == unit

    # The licence on the map layer.
    tiles.CACHE.clear()
    _log_out(page)
    open_map(page, site.url, "county")
    reason = tiles_missing(page, site.url)
    if reason:
        pytest.skip(reason)
    page.set_checked("input[name=layer][value=licences]", True)
    page.evaluate(
        "([lon, lat]) => segisMap.jumpTo({center: [lon, lat], zoom: 16})",
        [unit.location.x, unit.location.y],
    )
    wait_idle(page)
    drawn = {f["properties"]["id"]: f for f in rendered(page, ["licences-points"])}
    assert licence.pk in drawn, "the licence is not drawn"
    assert drawn[licence.pk]["properties"]["validity"] == "valid"
    page.screenshot(path=ARTIFACTS / "licensing-map-desktop.png")

    # The device it installed before it held the licence stays a finding on the map; so does the
    # station that filled unlicensed (无证充装).
    for layer, point, pk in (("unlicensed", device.location, device.pk),
                             ("unlicensed_filling", station.location, station.pk)):  # fmt: skip
        page.set_checked(f"input[name=layer][value={layer}]", True)
        page.evaluate("([lon, lat]) => segisMap.jumpTo({center: [lon, lat], zoom: 16})",
                      [point.x, point.y])  # fmt: skip
        wait_idle(page)
        drawn = {f["properties"]["id"] for f in rendered(page, [f"{layer}-points"])}
        assert pk in drawn, f"not drawn on the {layer} layer"
    page.screenshot(path=ARTIFACTS / "licensing-unlicensed-map-desktop.png")
    assert page.errors == [] and page.foreign_requests == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_licensing_pages_fit_the_screen(licensing_site, page, size):
    site, unit, device, station = licensing_site
    page.set_viewport_size(size)
    log_in(page, site.url, "county")
    name = "desktop" if size == DESKTOP else "phone"
    for slug, path in [("index", "/licensing/"), ("findings", "/licensing/findings/"),
                       ("new", "/licensing/applications/new/?kind=installation")]:  # fmt: skip
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        _shot(page, f"{slug}-{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], slug
    assert page.errors == []
