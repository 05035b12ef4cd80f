"""Issue 23 as the city's supervisor reads it: the devices registered without a required supervisory
inspection, the inspection body's page with its refused records and why, and a crane maker's
products on the map; at desktop and phone size, no script error, nothing from another host."""

from __future__ import annotations

import pytest

from inspections.models import FeedAccount
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_supervisor_reads_the_findings_the_body_and_the_makers(demo_site, page, size):
    if size == "phone":
        page.set_viewport_size(PHONE)
    body = FeedAccount.objects.select_related("body").get().body
    log_in(page, demo_site.url, "city")
    page.goto(f"{demo_site.url}/inspections/")
    assert page.locator("#findings tbody tr").count() > 0
    assert page.locator("#findings .badge").count() > 0
    page.screenshot(path=ARTIFACTS / f"inspections-findings-{size}.png", full_page=True)

    page.click(f"#bodies a:has-text('{body.name}')")
    page.wait_for_load_state("networkidle")
    with page.expect_navigation():
        page.select_option("#status", "refused")  # the list follows the choice
    page.wait_for_load_state("networkidle")
    rows = page.locator("#records tbody tr")
    assert rows.count() == 3  # the demo batch's changed repeat, out-of-scope and malformed records
    assert "device.out_of_scope" not in rows.all_inner_texts()[0]  # reasons in words, not rule ids
    assert page.locator("#records").get_by_text("不在本机构核准检验的设备之中").count() == 1
    page.screenshot(path=ARTIFACTS / f"inspections-body-{size}.png", full_page=True)

    page.goto(f"{demo_site.url}/inspections/manufacturing/?kind=4000")
    page.locator("#makers a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#products tbody tr").count() > 0
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator(".leaflet-interactive").count() > 0  # the products' points
    page.screenshot(path=ARTIFACTS / f"inspections-manufacturing-{size}.png", full_page=True)
    assert page.errors == [] and page.foreign_requests == []
