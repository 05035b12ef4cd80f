"""The header's language switch as a supervisor uses it: 中文 → English → 中文, on an office
screen and a phone; the map's legends (page scripts, through the JavaScript catalogue) follow.
Screenshots in tests/artifacts/."""

from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

CJK = re.compile(r"[\u4e00-\u9fff]")
MAP_READY = (
    "() => Boolean(document.body.dataset.mapReady && window.segisMap && window.segisMap.loaded())"
)


def header_words(page) -> str:
    """The header's own words: not the user's name and agency (data) nor the languages' names."""
    return page.evaluate(
        """() => {
            const nav = document.querySelector('#site-nav').cloneNode(true);
            nav.querySelectorAll('.who, select, .menu-user > .menu-head').forEach((n) => n.remove());
            return nav.innerText;
        }"""
    )


def choose(page, language: str) -> None:
    with page.expect_navigation():
        page.select_option("#site-nav select[name=language]", language)
    page.wait_for_load_state("networkidle")


def test_the_switch_changes_the_pages_and_the_maps_legends(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.goto(f"{demo_site.url}/map/")
    page.wait_for_function(MAP_READY, timeout=30_000)
    legend = page.locator("[data-legend-for=overdue]")
    assert "天" in legend.inner_text()
    assert "地图" in header_words(page)

    choose(page, "en")
    page.wait_for_function(MAP_READY, timeout=30_000)
    assert page.get_attribute("html", "lang") == "en"
    words = header_words(page)
    assert "Map" in words and "Analysis" in words and not CJK.search(words), words
    legend_text = page.locator("[data-legend-for=overdue]").inner_text()
    assert "days" in legend_text and not CJK.search(legend_text), legend_text
    # The catalogue's kinds in the equipment legend are its English names (data, both kept).
    assert "Elevators" in page.locator("[data-legend-for=equipment]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "language-en-map.png"))

    # Another page, the same language (the choice is remembered), and one line of header.
    page.goto(f"{demo_site.url}/analysis/")
    assert "Analysis" in page.inner_text("h1")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_site.url}/map/")
    page.wait_for_function(MAP_READY, timeout=30_000)
    brand = page.locator(".brand").bounding_box()
    button = page.locator(".menu-toggle").bounding_box()
    assert abs(brand["y"] - button["y"]) < brand["height"], "the menu button fell under the brand"
    page.screenshot(path=str(ARTIFACTS / "language-en-phone.png"))

    page.set_viewport_size({"width": 1440, "height": 900})
    choose(page, "zh-hans")
    assert "地图" in header_words(page)
    assert page.errors == []
