"""The public service in a browser: a supervisor prints a device's QR label, a member of the
public "scans" it on a phone (390×844), reports a trapped passenger, and the county responder
finds the incident on the console's list. Screenshots in tests/artifacts/."""

from __future__ import annotations

import pytest

from accounts.demo import demo_accounts, ensure_demo_users
from response.models import Incident
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.conftest import XINGQING, load_test_regions
from tests.public.conftest import make_site  # noqa: F401  (the fixture)

pytestmark = BROWSER
PHONE_SIZE = {"width": 390, "height": 844}


@pytest.fixture
def regions(transactional_db):
    load_test_regions()  # a transactional test before this one may have flushed them


@pytest.fixture
def public_site(regions, live_server, agencies, make_site):  # noqa: F811
    ensure_demo_users(demo_accounts("640000", "640100", XINGQING))
    return live_server, make_site(XINGQING)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"public-{name}.png"), full_page=True)


def test_scan_report_and_the_desk_sees_it(public_site, page):
    server, site = public_site
    base = server.url

    # The county supervisor prints the label; its QR holds the public page's address.
    log_in(page, base, "county")
    page.goto(f"{base}/public/labels/equipment/{site.device.pk}/")
    label = page.locator("figure.qr-label")
    assert label.locator("svg").count() == 1
    scanned = label.get_attribute("data-url")
    assert scanned == f"{base}/p/{site.token}/"
    shot(page, "labels-1440")

    # A phone, nobody signed in: the device's page, then the report.
    phone = page.context.browser.new_context(viewport=PHONE_SIZE, locale="zh-CN",
                                             is_mobile=True, has_touch=True)  # fmt: skip
    mobile = phone.new_page()
    errors = []
    mobile.on("console", lambda m: m.type == "error" and errors.append(m.text))
    mobile.goto(scanned)
    assert (
        mobile.locator("h1").inner_text()
        == site.device.variety.name_zh  # the phone's language: Chinese here
    )
    assert site.device.rescue_id in mobile.content()
    no_sideways_scroll(mobile)
    shot(mobile, "device-390")
    mobile.click("text=有人被困")
    assert mobile.is_checked("input[name=kind][value=trapped]")
    mobile.click("button[type=submit]")  # no number yet: the form says which field
    assert mobile.locator("#phone-error").is_visible()
    no_sideways_scroll(mobile)
    shot(mobile, "report-error-390")
    assert errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    errors.clear()  # that 400 was the form's answer, expected
    mobile.fill("#phone", "13912345678")
    mobile.fill("#description", "电梯停在两层之间，里面有两个人")
    mobile.click("button[type=submit]")
    mobile.wait_for_url(f"{base}/p/{site.token}/report/done/")
    shot(mobile, "report-done-390")
    assert not errors, errors
    assert not [c for c in phone.cookies() if c["name"] == "sessionid"]
    phone.close()

    incident = Incident.objects.get(equipment=site.device)
    assert incident.region_id == XINGQING and incident.fault_code == "11"

    # The county responder has it on the console's list of open incidents.
    page.context.clear_cookies()
    log_in(page, base, "responder")
    page.goto(f"{base}/response/")
    row = page.locator(f"#incident-list li[data-incident='{incident.pk}']")
    row.wait_for(timeout=15_000)
    shot(page, "console-1440")
    page.goto(f"{base}/public/reports/")
    assert f"#{incident.pk}" in page.content()
    with page.expect_navigation():
        page.click(f"text={incident.reported_at.astimezone().strftime('%Y-%m-%d')}")
    page.wait_for_load_state()  # the page whole, not its head alone
    assert "13912345678" in page.content()  # the responder reads contacts, audited
    shot(page, "report-detail-1440")


def test_the_public_pages_at_both_sizes(public_site, page):
    server, site = public_site
    for size, name in ((None, "1440"), (PHONE_SIZE, "390")):
        if size:
            page.set_viewport_size(size)
        for path, label in (("", "device"), ("report/", "report"), ("", "find")):
            url = f"{server.url}/p/{site.token}/{path}" if label != "find" else f"{server.url}/p/"
            page.goto(url)
            no_sideways_scroll(page)
            shot(page, f"{label}-{name}")
        page.goto(f"{server.url}/p/{'x' * 43}/")
        shot(page, f"not-found-{name}")
