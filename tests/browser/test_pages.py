"""Pages as a user sees them: headless Debian Chromium (never a downloaded browser) against a live server."""

from __future__ import annotations

from registry.models import Equipment
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def test_supervisor_signs_in_and_reads_the_dashboard(demo_site, page):
    page.goto(f"{demo_site.url}/")
    assert "/accounts/login/" in page.url
    page.screenshot(path=ARTIFACTS / "login.png")
    log_in(page, demo_site.url, "county")

    assert page.locator("h1").inner_text().startswith("兴庆区")
    devices = Equipment.objects.filter(region_id="640104").count()
    assert page.locator(".card b").first.inner_text().replace(",", "") == str(devices)
    # Vector layers are drawn on a canvas (hundreds of markers stay fast).
    page.wait_for_selector(".leaflet-overlay-pane canvas")
    assert page.locator("#by-region tbody tr").count() == 1
    # The conventions of every SEGIS map: one metric scale bar, the project's attribution, no flag.
    assert page.locator(".leaflet-control-scale-line").count() == 1
    assert page.locator(".leaflet-control-scale-line").inner_text().endswith(("km", "m"))
    attribution = page.locator(".leaflet-control-attribution")
    assert "SEGIS" in attribution.inner_text() and attribution.locator("svg").count() == 0
    page.screenshot(path=ARTIFACTS / "home-county.png")

    overdue = Equipment.objects.filter(region_id="640104").overdue().exclude(location=None).count()
    assert f"（{overdue}）" in page.locator(".leaflet-control-layers-overlays").inner_text()
    # Open the first overdue device's popup the way a click would, through Leaflet itself.
    opened = page.evaluate(
        """() => {
            const map = Object.values(window).find((v) => v instanceof L.Map);
            let opened = null;
            map.eachLayer((layer) => {
                if (!opened && layer instanceof L.CircleMarker && layer.getPopup()) { layer.openPopup(); opened = true; }
            });
            return opened;
        }"""
    )
    if overdue:
        assert opened
        popup = page.wait_for_selector(".leaflet-popup-content").inner_text()
        assert "逾期" in popup or "不合格" in popup
    assert page.errors == []
    assert page.foreign_requests == []


def test_city_dashboard_lists_its_counties_and_the_layer_control(demo_site, page):
    log_in(page, demo_site.url, "city")
    assert page.locator("h1").inner_text().startswith("银川市")
    counties = set(Equipment.objects.within_prefix("6401").values_list("region_id", flat=True))
    assert page.locator("#by-region tbody tr").count() == len(counties)
    for label in ("逾期设备", "事故", "应急资源"):
        assert page.locator(".leaflet-control-layers-overlays", has_text=label).count() == 1
    page.locator(".leaflet-control-layers-overlays label", has_text="应急资源").click()
    page.wait_for_selector(".marker-cluster, .leaflet-marker-icon")
    page.screenshot(path=ARTIFACTS / "home-city.png")
    assert page.errors == []
    assert page.foreign_requests == []


def test_admin_map_widget_works_offline(demo_site, page):
    log_in(page, demo_site.url, "county")
    device = Equipment.objects.filter(region_id="640104").exclude(location=None).first()
    page.goto(f"{demo_site.url}/admin/registry/equipment/{device.pk}/change/")
    page.wait_for_selector(".ol-viewport canvas, .ol-viewport")
    page.wait_for_timeout(1500)
    page.screenshot(path=ARTIFACTS / "admin-equipment-map.png", full_page=True)
    assert device.device_code in page.content()
    assert page.errors == []
    assert page.foreign_requests == []


def test_on_an_office_screen_the_header_is_one_line_of_groups(demo_site, page):
    log_in(page, demo_site.url, "province")
    page.set_viewport_size({"width": 820, "height": 600})
    page.goto(f"{demo_site.url}/")
    # One line: the page below keeps the height it was laid out for (main is 100% - 52 px).
    assert page.locator(".topbar").bounding_box()["height"] < 56
    export = page.locator("header nav a", has_text="导出")
    assert not export.is_visible()
    page.click("header .menu-head:has-text('数据')")
    assert export.is_visible()
    assert page.get_attribute("header .menu-head:has-text('数据')", "aria-expanded") == "true"
    # One group at a time; Escape and a click elsewhere close it.
    page.click("header .menu-head:has-text('应急')")
    assert not export.is_visible()
    assert page.locator("header nav a", has_text="响应统计").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("header nav a", has_text="响应统计").is_visible()
    page.click("header .menu-head:has-text('数据')")
    page.click("main h1")
    assert not export.is_visible()
    page.click("header .menu-head:has-text('数据')")
    export.click()
    page.wait_for_url("**/export/**")
    assert page.errors == []


def test_on_a_phone_the_header_folds_its_links_behind_one_menu(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_site.url}/")
    map_link = page.locator("header nav a", has_text="地图")
    assert not map_link.is_visible()
    assert page.locator(".topbar").bounding_box()["height"] < 80
    page.click(".menu-toggle")
    assert map_link.is_visible()
    assert page.get_attribute(".menu-toggle", "aria-expanded") == "true"
    # The dashboard fits the phone: figures, then the map, nothing wider than the screen.
    page.click(".menu-toggle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.wait_for_selector(".leaflet-overlay-pane canvas")
    page.screenshot(path=ARTIFACTS / "home-county-phone.png", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    assert map_link.is_visible() and not page.locator(".menu-toggle").is_visible()
    assert page.errors == []
