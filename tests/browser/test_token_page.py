"""The API token page as a user meets it: from the header, create a token, use it."""

from __future__ import annotations

import re
import urllib.request

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def test_a_supervisor_creates_a_token_and_a_gis_client_can_use_it(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.click("header .menu-user .menu-head")
    page.click("header nav a[href='/accounts/token/']")
    page.wait_for_selector("#no-token")
    page.click("main form button[type=submit]")
    key = page.locator("#api-token").inner_text()
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert page.locator("#ogcapi-url").inner_text() == f"{demo_site.url}/ogcapi"
    page.screenshot(path=ARTIFACTS / "api-token.png", full_page=True)

    request = urllib.request.Request(
        f"{demo_site.url}/ogcapi/collections", headers={"Authorization": f"Token {key}"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
        assert b'"equipment"' in answer.read()
    assert page.errors == []
    assert page.foreign_requests == []
