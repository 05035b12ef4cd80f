"""The street base map in the browser: a PMTiles archive written by the test from PostGIS tiles,
served by /map/basemap.pmtiles in byte ranges, drawn by MapLibre with the vendored Protomaps style."""

from __future__ import annotations

import pytest

from registry.models import Equipment
from tests.browser.conftest import ARTIFACTS, BROWSER
from tests.browser.test_map import open_map, wait_idle
from tests.maps.street_archive import write_street_archive

pytestmark = BROWSER

STREET_LAYERS = ["streets-earth", "streets-roads_major", "streets-buildings"]
LABEL_LAYERS = ["streets-roads_labels_major", "streets-places_locality"]


@pytest.fixture
def street_site(demo_site, settings, tmp_path):
    """The demo site with a street archive around a Xingqing device, z11–15."""
    device = Equipment.objects.filter(region_id="640104").exclude(location=None).order_by("pk")[0]
    at = device.location
    box = (at.x - 0.02, at.y - 0.015, at.x + 0.02, at.y + 0.015)
    path = tmp_path / "streets.pmtiles"
    write_street_archive(path, box, range(11, 16))
    settings.SEGIS_PMTILES_PATH = str(path)
    settings.SEGIS_PMTILES_ACCEL_PATH = ""
    return demo_site, (at.x, at.y)


def rendered_by_layer(page, layers: list[str]) -> dict[str, int]:
    return page.evaluate(
        """(layers) => Object.fromEntries(layers.map((id) => [id,
            segisMap.queryRenderedFeatures({layers: [id]}).filter((f) => f.source === 'streets').length]))""",
        layers,
    )


def test_the_map_draws_streets_buildings_and_names_from_the_local_archive(street_site, page):
    site, (lon, lat) = street_site
    ranges = []
    page.on(
        "response",
        lambda response: (
            "/map/basemap.pmtiles" in response.url
            and ranges.append((response.status, response.request.headers.get("range", "")))
        ),
    )
    open_map(page, site.url)
    assert page.is_checked("input[name=basemap][value=streets]")  # offline too: the first choice
    page.evaluate("([lon, lat]) => segisMap.jumpTo({center: [lon, lat], zoom: 15.5})", [lon, lat])
    wait_idle(page)
    page.wait_for_function(
        "() => segisMap.queryRenderedFeatures({layers: ['streets-roads_major']}).length > 0",
        timeout=30_000,
    )
    page.screenshot(path=str(ARTIFACTS / "map-streets.png"))

    drawn = rendered_by_layer(page, STREET_LAYERS + LABEL_LAYERS)
    assert all(drawn[layer] > 0 for layer in STREET_LAYERS), drawn
    assert drawn["streets-roads_labels_major"] > 0, drawn  # 测试路N, drawn with the system's fonts
    assert page.evaluate("segisMap.getLayoutProperty('land', 'visibility')") == "none"
    # Every read of the archive was a range request answered 206: no whole-file download.
    assert ranges and all(status == 206 and value.startswith("bytes=") for status, value in ranges)
    assert page.foreign_requests == []
    assert page.errors == []

    # Back to the boundaries: the street layers are hidden, the land fill is back.
    page.check("input[name=basemap][value=offline]")
    wait_idle(page)
    assert sum(rendered_by_layer(page, STREET_LAYERS).values()) == 0
    assert page.evaluate("segisMap.getLayoutProperty('land', 'visibility')") == "visible"


def test_without_an_archive_the_map_is_unchanged(demo_site, page, settings):
    settings.SEGIS_PMTILES_PATH = ""
    open_map(page, demo_site.url)
    assert page.is_checked("input[name=basemap][value=offline]")
    assert page.locator("input[name=basemap][value=streets]").count() == 0
    assert page.evaluate("segisMap.getSource('streets') === undefined")
    assert page.errors == []


def test_an_archive_that_cannot_be_read_says_so_and_gives_way_to_the_boundaries(
    demo_site, page, settings, tmp_path
):
    settings.SEGIS_PMTILES_PATH = str(tmp_path / "moved-away.pmtiles")  # configured, not there
    settings.SEGIS_PMTILES_ACCEL_PATH = ""
    open_map(page, demo_site.url)
    page.wait_for_selector("#map-notice:not([hidden])", timeout=30_000)
    assert "SEGIS_PMTILES_PATH" in page.text_content("#map-notice")
    assert page.is_checked("input[name=basemap][value=offline]")
    assert page.evaluate("segisMap.getLayoutProperty('land', 'visibility')") == "visible"
    page.screenshot(path=str(ARTIFACTS / "map-streets-missing.png"))
