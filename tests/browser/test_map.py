"""The supervisor's map (/map/) as a user drives it: headless Debian Chromium against a live server.

The tile layers come from the tile server (/tiles/…). Tests that need it ask /tiles/layers.json
first and skip, naming the answer, while it is not there; once it is, they are strict.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
import zlib
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from maps import tiles
from registry import services
from registry.models import Equipment, Unit
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER

LAYERS = ["equipment", "overdue", "units", "accidents", "resources", "stations"]
OSM_TILES = "https://tile.openstreetmap.org/"
MAP_IDLE = """() => {
    const map = window.segisMap;
    return Boolean(document.body.dataset.mapReady && map && map.loaded() && map.areTilesLoaded()
        && !map.isMoving());
}"""


# The generator makes no accidents: these, at devices of two Yinchuan counties, hours, days and
# months ago, so each accident window (24 h, 30 days, a year) holds a different number.
ACCIDENTS = [  # (county, age, severity, deaths)
    ("640104", dt.timedelta(hours=3), "ordinary", 0),
    ("640105", dt.timedelta(days=12), "large", 3),
    ("640104", dt.timedelta(days=200), "major", 11),
]
ACCIDENTS_IN_WINDOW = {"24h": 1, "30d": 2, "1y": 3}


@pytest.fixture
def map_site(demo_site):
    """The generated site with a few accidents, and the live server's tile cache emptied: every
    test makes new rows (new ids) in the same tiles, and a tile cached before would show old ones."""
    now = timezone.now()
    for county, age, severity, deaths in ACCIDENTS:
        device = Equipment.objects.filter(region_id=county).exclude(location=None).order_by("pk")[1]
        services.record_accident(
            acting_user=None,
            occurred_at=now - age,
            kind="困人 / trapped passengers",
            equipment=device,
            severity=severity,
            deaths=deaths,
        )
    tiles.CACHE.clear()
    return demo_site


def open_map(page, base_url: str, username: str = "county") -> None:
    log_in(page, base_url, username)
    page.click("header nav a:has-text('地图')")
    page.wait_for_url(f"{base_url}/map/")
    wait_idle(page)


def wait_idle(page) -> None:
    page.wait_for_function(MAP_IDLE, timeout=30_000)
    page.wait_for_timeout(300)  # one more frame drawn after the last tile


def tiles_missing(page, base_url: str) -> str | None:
    """Why the tile-layer parts cannot run yet, or None when the tile server answers."""
    response = page.request.get(f"{base_url}/tiles/layers.json")
    if response.status != 200:
        return f"tile server not there yet: /tiles/layers.json answers {response.status}"
    return None


def assert_clean(page) -> None:
    assert page.errors == []
    assert page.foreign_requests == []


def rendered(page, layer_ids: list[str]) -> list[dict]:
    return page.evaluate(
        """(ids) => segisMap.queryRenderedFeatures({layers: ids.filter((id) => segisMap.getLayer(id))})
            .map((f) => ({layer: f.layer.id, properties: f.properties, geometry: f.geometry}))""",
        layer_ids,
    )


def click_lnglat(page, lon: float, lat: float) -> None:
    point = page.evaluate("([lon, lat]) => segisMap.project([lon, lat])", [lon, lat])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def grey_png() -> bytes:
    """A 1×1 grey PNG, served in place of an online basemap tile (no traffic leaves the machine)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xc0"))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- always strict


def test_city_map_opens_on_the_offline_basemap_and_online_ones_only_on_request(map_site, page):
    page.route(
        f"{OSM_TILES}**", lambda route: route.fulfill(body=grey_png(), content_type="image/png")
    )
    open_map(page, map_site.url, "city")
    labels = ["outer-labels", "city-labels", "county-labels"]
    wanted = ["银川市", "兴庆区", "西夏区"]
    # Labels are placed in a frame after the map is idle, later on a busy machine: wait for them.
    page.wait_for_function(
        """([ids, wanted]) => {
            const names = new Set(segisMap.queryRenderedFeatures(
                {layers: ids.filter((id) => segisMap.getLayer(id))}).map((f) => f.properties.name));
            return wanted.every((name) => names.has(name));
        }""",
        arg=[labels, wanted],
        timeout=30_000,
    )
    names = {f["properties"]["name"] for f in rendered(page, labels)}
    assert set(wanted) <= names
    assert page.evaluate("segisMap.querySourceFeatures('basemap').length") > 0
    for title in ["设备", "逾期未检", "单位", "事故",
                  "应急资源"]:  # fmt: skip
        assert page.locator(".layer-title", has_text=title).count() == 1
    assert page.locator("select[name=region] option", has_text="兴庆区").count() == 1
    page.screenshot(path=ARTIFACTS / "map-city.png")
    if tiles_missing(page, map_site.url):
        assert page.locator("#tiles-notice").is_visible()
        assert page.locator("input[name=layer]:disabled").count() == len(LAYERS)
        assert page.tile_requests == []
    else:
        assert page.locator("[data-legend-for=equipment] span").count() >= 8

    assert page.foreign_requests == []
    # Waits for the first OSM tile request, however long a busy machine takes to send it.
    with page.expect_request(lambda request: request.url.startswith(OSM_TILES), timeout=30_000):
        page.check("input[name=basemap][value=osm]")
    assert page.foreign_requests and all(url.startswith(OSM_TILES) for url in page.foreign_requests)
    page.check("input[name=basemap][value=offline]")
    assert page.errors == []


def test_county_searches_a_device_and_a_unit_and_opens_the_detail_page(map_site, page):
    open_map(page, map_site.url, "county")
    codes = page.evaluate(
        "[...new Set(segisMap.querySourceFeatures('basemap').map((f) => f.properties.code))]"
    )
    assert codes == ["640104"]
    assert page.locator("select[name=region] option").count() == 2  # the whole jurisdiction, itself
    page.screenshot(path=ARTIFACTS / "map-county.png")

    unit = Unit.objects.filter(region_id="640104").exclude(location=None).order_by("pk").first()
    page.fill("#map-search-input", unit.credit_code)
    page.press("#map-search-input", "Enter")
    popup = page.wait_for_selector(".segis-popup")
    assert unit.name in popup.inner_text()
    assert popup.query_selector("a.detail").get_attribute("href") == (f"/units/{unit.pk}/")
    page.fill("#map-search-input", "没有这个单位-XYZ")
    page.press("#map-search-input", "Enter")
    page.wait_for_selector(".search-results li.empty")

    device = (
        Equipment.objects.filter(region_id="640104")
        .exclude(location=None)
        .exclude(device_code="")
        .order_by("pk")
        .first()
    )
    # Part of a code lists the devices it starts, in lower case too (registry/search.py).
    prefix = device.device_code[:8]
    starting = Equipment.objects.filter(region_id="640104", device_code__startswith=prefix).count()
    page.fill("#map-search-input", prefix.lower())
    page.press("#map-search-input", "Enter")
    page.wait_for_selector(".search-results li .tag")
    listed = page.locator(".search-results li:has(.tag)").all_inner_texts()
    assert len(listed) == min(10, starting) and all(prefix in text for text in listed), listed
    page.screenshot(path=ARTIFACTS / "map-search-prefix.png")

    page.fill("#map-search-input", device.device_code)
    page.click("#map-search button[type=submit]")
    page.wait_for_function(
        "(code) => [...document.querySelectorAll('.segis-popup')].some((p) => p.textContent.includes(code))",
        arg=device.device_code,
    )
    wait_idle(page)
    centre = page.evaluate("segisMap.getCenter().toArray()")
    assert centre == pytest.approx([device.location.x, device.location.y], abs=1e-4)
    assert page.evaluate("segisMap.getZoom()") >= 15
    assert page.locator(".search-results li").count() == 1
    page.screenshot(path=ARTIFACTS / "map-search.png")

    page.click(".segis-popup a.detail")
    page.wait_for_url(re.compile(rf"/equipment/{device.pk}/$"))
    assert device.device_code in page.content()
    page.screenshot(path=ARTIFACTS / "map-detail.png")
    assert_clean(page)


# --------------------------------------------------------------------------- with the tile server


def test_every_layer_toggles_and_the_filters_reach_every_tile_and_count(map_site, page):
    open_map(page, map_site.url, "city")
    reason = tiles_missing(page, map_site.url)
    if reason:
        pytest.skip(reason)
    for layer in LAYERS:
        for other in LAYERS:
            page.set_checked(f"input[name=layer][value={other}]", other == layer)
        if layer == "accidents":
            for window, expected in ACCIDENTS_IN_WINDOW.items():
                page.select_option("#accident-window", window)
                page.wait_for_function(
                    "(n) => document.querySelector('[data-count-for=accidents]').textContent === n",
                    arg=str(expected),
                    timeout=10_000,
                )
            # A custom window around the 12-day-old accident only, typed backwards.
            page.select_option("#accident-window", "custom")
            today = timezone.localdate()
            page.fill("input[name=accident_from]", str(today - dt.timedelta(days=5)))
            page.fill("input[name=accident_to]", str(today - dt.timedelta(days=20)))
            page.wait_for_function(
                "() => document.querySelector('[data-count-for=accidents]').textContent === '1'",
                timeout=10_000,
            )
            page.select_option("#accident-window", "1y")
            page.check("#accident-heat")
        wait_idle(page)
        count = page.locator(f"[data-count-for={layer}]")
        page.wait_for_function(
            "(el) => /^[0-9,]+$/.test(el.textContent)", arg=count.element_handle(), timeout=10_000
        )
        assert page.locator(f"[data-legend-for={layer}]").is_visible()
        assert page.locator(f"[data-legend-for={layer}] span").count() >= 2
        for other in LAYERS:
            visibility = page.evaluate(
                f"segisMap.getLayoutProperty('{other}-points', 'visibility')"
            )
            assert visibility == ("visible" if other == layer else "none"), other
        page.screenshot(path=ARTIFACTS / f"map-layer-{layer}.png")

    for layer in LAYERS:
        page.set_checked(f"input[name=layer][value={layer}]", True)
    wait_idle(page)
    page.check("input[name=kind][value='3000']")
    page.select_option("select[name=region]", "640104")
    page.wait_for_timeout(600)
    wait_idle(page)
    # Every tile and count asked for from now on carries the filters: zoom in for new tiles.
    page.tile_requests.clear()
    page.evaluate("segisMap.zoomTo(segisMap.getZoom() + 1, {duration: 0})")
    page.wait_for_timeout(600)
    wait_idle(page)
    by_layer = {}
    for url in page.tile_requests:
        parts = urlparse(url)
        by_layer.setdefault(parts.path.split("/")[2], []).append(parse_qs(parts.query))
    assert set(by_layer) == set(LAYERS), by_layer.keys()
    for layer, queries in by_layer.items():
        assert all(q.get("region") == ["640104"] for q in queries), layer
        if layer in ("equipment", "overdue", "accidents"):
            assert all(q.get("kind") == ["3000"] for q in queries), layer
    assert [q for q in by_layer["equipment"] if "bbox" in q], "no count request after the move"
    filtered = int(page.locator("[data-count-for=equipment]").inner_text().replace(",", ""))
    elevators = Equipment.objects.filter(region_id="640104", kind="3000").exclude(location=None)
    assert 0 < filtered <= elevators.count()
    page.screenshot(path=ARTIFACTS / "map-filtered.png")
    assert_clean(page)


def test_tiles_and_counts_carry_the_map_pass_which_is_renewed_before_it_expires(
    map_site, page, settings
):
    settings.MAP_PASS_MAX_AGE_S = 4  # renewed every 2 s
    seen = []  # (path, pass header, status) of every tile and count answer

    def on_response(response):
        path = urlparse(response.url).path
        if path.startswith("/tiles/") and path.endswith((".pbf", "/count")):
            seen.append((path, response.request.headers.get("x-map-pass"), response.status))

    page.on("response", on_response)
    open_map(page, map_site.url, "county")
    reason = tiles_missing(page, map_site.url)
    if reason:
        pytest.skip(reason)
    assert seen and all(token for _, token, _ in seen), "a tile or count went without the pass"
    first = {token for _, token, _ in seen}
    page.wait_for_timeout(5_000)  # past the first pass's life
    page.evaluate("segisMap.zoomTo(segisMap.getZoom() + 1, {duration: 0})")
    page.wait_for_timeout(600)
    wait_idle(page)
    later = [(path, token, status) for path, token, status in seen if token not in first]
    assert later, "no request with a renewed pass"
    assert any(status == 200 for _, _, status in later)
    # On a busy machine a request can reach the server after its pass expired: the only refusal
    # allowed is that 401, after which the map renews the pass and asks again with the new one.
    for n, (path, token, status) in enumerate(seen):
        if status != 200:
            assert status == 401, (path, status)
            assert any(t != token and s == 200 for _, t, s in seen[n + 1 :]), path
    assert re.fullmatch(r"[0-9,]+", page.locator("[data-count-for=equipment]").inner_text())
    assert_clean(page)


def test_clusters_count_and_a_click_opens_a_popup_and_the_detail_page(map_site, page):
    open_map(page, map_site.url, "county")
    reason = tiles_missing(page, map_site.url)
    if reason:
        pytest.skip(reason)
    page.set_checked("input[name=layer][value=overdue]", False)
    wait_idle(page)
    anchors = rendered(page, ["cluster-anchors"])
    assert anchors, "no clusters drawn at the county's framing zoom"
    assert {a["properties"]["layer"] for a in anchors} == {"equipment"}
    page.wait_for_function(
        "() => /^[0-9,]+$/.test(document.querySelector('[data-count-for=equipment]').textContent)"
    )
    assert int(page.locator("[data-count-for=equipment]").inner_text().replace(",", "")) > 0
    page.screenshot(path=ARTIFACTS / "map-clusters.png")

    device = (
        Equipment.objects.filter(region_id="640104").exclude(location=None).order_by("pk").first()
    )
    page.evaluate(
        "([lon, lat]) => segisMap.jumpTo({center: [lon, lat], zoom: 16})",
        [device.location.x, device.location.y],
    )
    wait_idle(page)
    points = rendered(page, ["equipment-points"])
    assert points, "no individual devices drawn at zoom 16"
    target = min(
        points,
        key=lambda f: (
            (f["geometry"]["coordinates"][0] - device.location.x) ** 2
            + (f["geometry"]["coordinates"][1] - device.location.y) ** 2
        ),
    )
    click_lnglat(page, *target["geometry"]["coordinates"])
    popup = page.wait_for_selector(".segis-popup")
    assert target["properties"]["code"] in popup.inner_text()
    href = popup.query_selector("a.detail").get_attribute("href")
    assert href == f"/equipment/{target['properties']['id']}/"
    page.screenshot(path=ARTIFACTS / "map-popup.png")
    page.click(".segis-popup a.detail")
    page.wait_for_url(re.compile(r"/equipment/\d+/$"))
    assert target["properties"]["code"] in page.content()
    assert_clean(page)


def glyph_totals(page) -> dict[str, int]:
    """Per layer, the counts the composed cluster glyphs show (each cell's anchor carries them all;
    a glyph near a GeoJSON tile's edge comes once per tile, hence by cell)."""
    return page.evaluate(
        """() => {
            const cells = new Map();
            segisMap.querySourceFeatures('clusters', {filter: ['==', ['get', 'role'], 'anchor']})
                .forEach((f) => cells.set(f.properties.cell, f.properties));
            const totals = {};
            cells.forEach((p) => Object.entries(p).filter(([k]) => k.startsWith('n_'))
                .forEach(([k, v]) => { totals[k.slice(2)] = (totals[k.slice(2)] || 0) + v; }));
            return totals;
        }"""
    )


def tile_cluster_totals(page, layers: list[str]) -> dict[str, int]:
    """Per layer, the cluster counts in the loaded tiles, each cluster once."""
    return page.evaluate(
        """(layers) => Object.fromEntries(layers.map((layer) => {
            const seen = new Map();
            segisMap.querySourceFeatures(layer, {sourceLayer: layer, filter: ['has', 'count']})
                .forEach((f) => seen.set(f.geometry.coordinates.join(','), f.properties.count));
            return [layer, [...seen.values()].reduce((a, b) => a + b, 0)];
        }))""",
        layers,
    )


def test_clusters_of_all_layers_make_one_readable_glyph_per_cell(map_site, page):
    open_map(page, map_site.url, "city")
    reason = tiles_missing(page, map_site.url)
    if reason:
        pytest.skip(reason)
    for layer in LAYERS:
        page.set_checked(f"input[name=layer][value={layer}]", True)
    page.select_option("#accident-window", "1y")
    page.wait_for_timeout(600)
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "map-clusters-all-layers.png")
    # Every count of every layer is on the map, once: the glyphs add up to the tiles' clusters.
    totals = tile_cluster_totals(page, LAYERS)
    assert totals["equipment"] > 0 and totals["overdue"] > 0 and totals["accidents"] > 0
    assert glyph_totals(page) == {layer: n for layer, n in totals.items() if n}
    glyphs = [
        g["properties"]
        for g in rendered(page, ["cluster-anchors", "cluster-badges", "cluster-rings"])
    ]
    anchors = {g["cell"]: g for g in glyphs if g["role"] == "anchor"}
    # Equipment takes the circle wherever it is; another layer only where no device is.
    assert all(g["layer"] == "equipment" for g in anchors.values() if g.get("n_equipment"))
    assert sum(1 for g in anchors.values() if g["layer"] == "equipment") > len(anchors) / 2
    for g in glyphs:
        if g["role"] == "badge":
            tag = {"overdue": "逾", "accidents": "事", "resources": "援", "units": "单",
                   "stations": "瓶"}[g["layer"]]  # fmt: skip
            assert g["label"].startswith(tag) and g[f"n_{g['layer']}"] > 0
    ringed = {g["cell"] for g in glyphs if g["role"] == "ring"}
    assert ringed == {c for c, g in anchors.items() if g.get("n_overdue")}
    # No circle covers another's count.
    circles = page.evaluate(
        """() => segisMap.queryRenderedFeatures({layers: ['cluster-anchors']}).map((f) => {
            const p = segisMap.project(f.geometry.coordinates);
            return [p.x, p.y, f.properties.radius];
        })"""
    )
    for i, (x1, y1, r1) in enumerate(circles):
        for x2, y2, r2 in circles[i + 1 :]:
            assert ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5 >= r1 + r2 - 0.5
    # The tooltip of a glyph names every layer in its cell.
    busiest = max(anchors.values(), key=lambda g: sum(1 for k in g if k.startswith("n_")))
    at = page.evaluate(
        "(cell) => segisMap.querySourceFeatures('clusters').find((f) => f.properties.cell === cell"
        " && f.properties.role === 'anchor').geometry.coordinates",
        busiest["cell"],
    )
    point = page.evaluate("([lon, lat]) => segisMap.project([lon, lat])", at)
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    tooltip = page.wait_for_selector(".segis-tooltip")
    assert "设备" in tooltip.inner_text() and "逾期未检" in tooltip.inner_text()
    page.screenshot(path=ARTIFACTS / "map-cluster-tooltip.png")
    # A cluster leads closer.
    zoom = page.evaluate("segisMap.getZoom()")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function("(z) => segisMap.getZoom() > z + 1", arg=zoom)
    assert_clean(page)


def choropleth_loaded(page) -> None:
    page.wait_for_function("() => 'choropleth' in document.body.dataset", timeout=10_000)
    wait_idle(page)


def test_region_choropleth_by_each_metric_and_down_to_a_county(map_site, page):
    open_map(page, map_site.url, "city")
    for layer in LAYERS:
        page.set_checked(f"input[name=layer][value={layer}]", False)
    page.check("#choropleth-toggle")
    choropleth_loaded(page)
    fills = rendered(page, ["regions-fill"])
    assert {"兴庆区", "西夏区"} <= {f["properties"]["name"] for f in fills}
    legend = page.locator("[data-legend-for=regions]")
    assert legend.is_visible() and "设备数" in legend.inner_text()
    total = page.locator("[data-count-for=regions]").inner_text()
    assert (
        int(total.replace(",", ""))
        == Equipment.objects.filter(region__code__startswith="6401").count()
    )
    page.screenshot(path=ARTIFACTS / "map-choropleth-devices.png")

    for metric, title in [("overdue_rate", "逾期率"), ("accident_rate", "每万台事故数")]:
        page.select_option("#choropleth-metric", metric)
        page.wait_for_function(
            "(t) => document.querySelector('[data-legend-for=regions]').textContent.includes(t)",
            arg=title,
        )
        if metric == "accident_rate":  # the accident layer's window, in reach with that layer off
            page.select_option("#accident-window", "1y")
            page.wait_for_function(
                "() => document.body.dataset.choropleth.includes('window=1y')", timeout=10_000
            )
        wait_idle(page)
        assert page.evaluate("segisMap.getPaintProperty('regions-fill', 'fill-color')")[1] == [
            "get",
            f"fill_{metric}",
        ]
        labels = {f["properties"].get(f"label_{metric}") for f in rendered(page, ["region-values"])}
        assert labels - {None}
        page.screenshot(path=ARTIFACTS / f"map-choropleth-{metric}.png")
    assert "近一年" in legend.inner_text()

    # Hover names the region and its figures; a click opens them and narrows the map to it.
    body = page.request.get(f"{map_site.url}/map/regions.geojson?window=1y").json()
    xingqing = next(
        f["properties"] for f in body["features"] if f["properties"]["code"] == "640104"
    )
    assert xingqing["accidents"] == 2  # the accidents of the last year there
    point = page.evaluate("([lon, lat]) => segisMap.project([lon, lat])", xingqing["label_point"])
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"] + 30)
    assert "兴庆区" in page.wait_for_selector(".segis-tooltip").inner_text()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"] + 30)
    popup = page.wait_for_selector(".segis-popup[data-layer=regions]")
    assert "兴庆区" in popup.inner_text() and "每万台" in popup.inner_text()
    page.screenshot(path=ARTIFACTS / "map-choropleth-popup.png")
    page.click(".segis-popup button.detail")
    page.wait_for_function("() => document.querySelector('select[name=region]').value === '640104'")
    page.wait_for_function(
        "() => segisMap.querySourceFeatures('regions').every((f) => f.properties.code === '640104')"
        " && segisMap.querySourceFeatures('regions').length > 0",
        timeout=10_000,
    )
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "map-choropleth-county.png")

    # Under the filters, the choropleth counts what the equipment count endpoint counts.
    page.check("input[name=kind][value='3000']")
    page.wait_for_function(
        "() => document.body.dataset.choropleth.includes('kind=3000')", timeout=10_000
    )
    counted = page.request.get(f"{map_site.url}/tiles/equipment/count?kind=3000&region=640104")
    if counted.status == 200:
        shown = page.locator("[data-count-for=regions]").inner_text()
        page.select_option("#choropleth-metric", "devices")
        page.wait_for_function(
            "() => /^[0-9,]+$/.test(document.querySelector('[data-count-for=regions]').textContent)"
        )
        shown = page.locator("[data-count-for=regions]").inner_text()
        assert int(shown.replace(",", "")) == counted.json()["count"] > 0
    page.uncheck("#choropleth-toggle")
    wait_idle(page)
    assert page.evaluate("segisMap.getLayoutProperty('regions-fill', 'visibility')") == "none"
    assert_clean(page)


def test_the_overdue_figure_opens_its_list_and_a_row_flies_to_the_device(map_site, page):
    """Dashboard figure → the overdue list → a row's "locate" → the map at that device, the layer
    on; and the map's "list" link → the table of what is in view (maps/lists.py)."""
    log_in(page, map_site.url, "county")
    page.click("#overdue-list")
    page.wait_for_url(re.compile(r"/map/list/overdue/$"))
    rows = page.locator("#layer-rows tbody tr")
    overdue = Equipment.objects.filter(region_id="640104").overdue().count()
    assert rows.count() == min(50, overdue) > 0
    page.screenshot(path=ARTIFACTS / "list-overdue.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=ARTIFACTS / "list-overdue-phone.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1440, "height": 900})

    first = rows.first
    device = Equipment.objects.get(pk=first.get_attribute("data-id"))
    first.locator("a.fly").click()
    page.wait_for_url(re.compile(r"/map/\?layers=overdue&focus="))
    wait_idle(page)
    centre = page.evaluate("segisMap.getCenter().toArray()")
    point = device.location or device.route.point_on_surface
    assert centre == pytest.approx([point.x, point.y], abs=1e-4)
    assert page.evaluate("segisMap.getZoom()") >= 16
    checked = page.eval_on_selector_all(
        "input[name=layer]:checked", "(boxes) => boxes.map((b) => b.value)"
    )
    assert checked == ["overdue"]
    page.screenshot(path=ARTIFACTS / "list-located.png")

    with page.expect_navigation():
        page.click("#map-list")
    query = parse_qs(urlparse(page.url).query)
    assert urlparse(page.url).path == "/map/list/overdue/" and "bbox" in query
    ids = [
        int(i)
        for i in page.eval_on_selector_all(
            "#layer-rows tbody tr[data-id]", "(rows) => rows.map((r) => r.dataset.id)"
        )
    ]
    assert device.pk in ids


def test_tianditu_requests_are_well_formed_and_a_basemap_that_fails_gives_way(
    map_site, page, settings
):
    """Tianditu's vector and annotation tiles (Web Mercator, `_w`) with the key from the settings,
    answered by a stand-in; OSM unreachable (an intranet): the map says so and goes back offline."""
    settings.TIANDITU_KEY = "stand-in-key"
    asked = []

    def stand_in(route):
        asked.append(route.request.url)
        route.fulfill(body=grey_png(), content_type="image/png")

    page.route(re.compile(r"^https://t[0-7]\.tianditu\.gov\.cn/"), stand_in)
    page.route(f"{OSM_TILES}**", lambda route: route.abort("internetdisconnected"))
    open_map(page, map_site.url, "city")
    page.check("input[name=basemap][value=tianditu]")
    page.wait_for_function("() => segisMap.getSource('online-tianditu-overlay') !== undefined")
    page.wait_for_function(
        "() => segisMap.areTilesLoaded() && segisMap.isSourceLoaded('online-tianditu')",
        timeout=30_000,
    )
    lon, lat = page.evaluate("segisMap.getCenter().toArray()")
    layers, covering = set(), set()
    for url in asked:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        layer = query["LAYER"]
        layers.add(layer)
        assert parsed.path == f"/{layer}_w/wmts", url
        assert query["SERVICE"] == "WMTS" and query["REQUEST"] == "GetTile", url
        assert query["VERSION"] == "1.0.0" and query["STYLE"] == "default", url
        assert query["TILEMATRIXSET"] == "w" and query["FORMAT"] == "tiles", url
        assert query["tk"] == "stand-in-key", url
        z, row, col = int(query["TILEMATRIX"]), int(query["TILEROW"]), int(query["TILECOL"])
        assert 0 <= row < 2**z and 0 <= col < 2**z, url
        # The map's centre in this tile matrix (Web Mercator, rows from the north).
        n = 2**z
        centre = (
            int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n),
        )
        if (col, row) == centre:
            covering.add(layer)
    assert layers == {"vec", "cva"}
    # Both layers were asked for the tile under the map's centre: rows and columns as Tianditu counts.
    assert covering == {"vec", "cva"}, (lon, lat, asked[:4])
    assert page.locator("#map-notice").is_hidden()

    page.check("input[name=basemap][value=osm]")
    notice = page.locator("#map-notice")
    notice.wait_for(state="visible", timeout=30_000)
    assert "已切回离线底图" in notice.inner_text()
    assert page.is_checked("input[name=basemap][value=offline]")
    assert page.evaluate("segisMap.getLayoutProperty('land', 'visibility')") == "visible"
    page.screenshot(path=ARTIFACTS / "map-basemap-fallback.png")
    # Chromium logs each tile it could not fetch; nothing else went wrong.
    assert [e for e in page.errors if OSM_TILES not in e] == []
