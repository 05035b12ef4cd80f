"""Pages as a user sees them: headless Debian Chromium (never a downloaded browser) against a live server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD, demo_accounts, ensure_demo_users
from registry.models import Equipment
from tests.conftest import load_test_regions

# Playwright's sync API runs an event loop in this thread; the ORM calls made here happen before it starts
# or in the live server's own thread, so Django's async-safety guard would only raise false alarms.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (./segis test installs it)",
    ),
]


@pytest.fixture
def demo_site(transactional_db, live_server):
    """A small generated registry in Yinchuan, with the demo users; the live server serves it."""
    load_test_regions()
    call_command("generate_demo", prefix="6401", devices=1500, seed=7, verbosity=0)
    ensure_demo_users(demo_accounts("640000", "640100", "640104"))
    return live_server


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"],
        )  # fmt: skip
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.errors, page.foreign_requests = [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console", lambda message: message.type == "error" and page.errors.append(message.text)
        )
        page.on(
            "request",
            lambda request: (
                urlparse(request.url).hostname not in ("localhost", "127.0.0.1", None)
                and page.foreign_requests.append(request.url)
            ),
        )
        yield page
        browser.close()


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


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
    page.screenshot(path=ARTIFACTS / "home-county.png")

    overdue = Equipment.objects.filter(region_id="640104").overdue().exclude(location=None).count()
    assert f"({overdue})" in page.locator(".leaflet-control-layers-overlays").inner_text()
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
