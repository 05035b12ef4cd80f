"""The Content-Security-Policy blocks nothing SEGIS itself serves: each main page loads in Chromium
with no `securitypolicyviolation` event and no "Refused to ..." console error."""

from __future__ import annotations

import pytest

from registry.models import Equipment
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

# Runs before any of the page's own scripts, on every document, outside the page's CSP.
RECORD_VIOLATIONS = """
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
    });
"""


def violations_on(page, url: str, wait_for: str) -> list[str]:
    response = page.goto(url)
    assert response.status == 200, url
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    page.wait_for_load_state("networkidle")
    # Violations first: a blocked script would otherwise show only as the selector's timeout.
    assert page.evaluate("window.__cspViolations") == [], url
    page.wait_for_selector(wait_for)  # the page drew what its scripts draw (workers, tiles)
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__cspViolations")


@pytest.fixture
def signed_in(demo_site, page):
    page.add_init_script(RECORD_VIOLATIONS)
    log_in(page, demo_site.url, "county")
    return page


@pytest.mark.parametrize(
    ("path", "wait_for"),
    [
        ("/", ".leaflet-overlay-pane canvas"),  # folium's inline script, with the nonce
        ("/map/", ".maplibregl-canvas"),  # MapLibre's blob: workers and images
        ("/response/", ".maplibregl-canvas"),
        ("/response/statistics/", ".leaflet-container"),
        ("/patrol/", ".maplibregl-canvas"),
        ("/analysis/", "#region-map[data-ready=true]"),  # ECharts: canvases, inline styles
        ("/export/", "main form"),
        ("/imports/", "main form"),
        ("/api/docs/", ".swagger-ui .info"),  # drf-spectacular's inline start, with the nonce
        ("/admin/", "#content"),
    ],
)
def test_a_page_loads_with_no_csp_violation(demo_site, signed_in, path, wait_for):
    page = signed_in
    assert violations_on(page, f"{demo_site.url}{path}", wait_for) == []
    assert [e for e in page.errors if "Refused to" in e or "Content Security Policy" in e] == []


def test_detail_page_and_admin_map_widget_load_with_no_csp_violation(demo_site, signed_in):
    page = signed_in
    device = Equipment.objects.filter(region_id="640104").exclude(location=None).first()
    assert (
        violations_on(page, f"{demo_site.url}/equipment/{device.pk}/", ".leaflet-container") == []
    )
    # The widget starts from data attributes (segis-map-widget.js), not an inline script.
    url = f"{demo_site.url}/admin/registry/equipment/{device.pk}/change/"
    assert violations_on(page, url, ".ol-viewport canvas") == []
    assert page.evaluate("typeof geodjango_location") == "object"
    page.screenshot(path=ARTIFACTS / "csp-admin-widget.png")
    assert page.errors == []


def test_the_language_select_works_without_an_inline_handler(demo_site, signed_in):
    page = signed_in
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("window.__cspViolations") == []


def test_a_violation_is_seen(demo_site, signed_in):
    """The recorder catches a blocked inline script: the tests above can fail."""
    page = signed_in
    page.goto(f"{demo_site.url}/export/")
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.ran = true"; document.body.appendChild(s); }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.ran") is None
    assert page.evaluate("window.__cspViolations")[0].startswith("script-src")


def test_a_debug_site_shows_the_demo_strip_and_the_map_keeps_its_height(
    demo_site, signed_in, settings
):
    page = signed_in
    heights = {}
    for debug in (False, True):
        settings.DEBUG = debug
        page.goto(f"{demo_site.url}/map/")
        page.wait_for_selector(".maplibregl-canvas")
        assert page.locator("#demo-strip").count() == int(debug)
        heights[debug] = page.evaluate("document.documentElement.scrollHeight")
    strip = page.locator("#demo-strip")
    assert strip.is_visible()
    assert "不是生产部署" in strip.inner_text()
    # The strip's height comes out of the page's: the full-height map page grows no scroll.
    assert heights[True] == heights[False]
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / "demo-strip-map.png")
    page.goto(f"{demo_site.url}/admin/")
    assert page.locator("#demo-strip").is_visible()
    assert page.evaluate("window.__cspViolations") == []
