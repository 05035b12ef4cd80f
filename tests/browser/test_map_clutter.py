"""Clutter on the supervisor's map (/map/, issue 19): at province zoom the cities' names stay readable
beside the cluster circles, at county zoom the badges round a circle overlap neither one another nor
a neighbouring circle. Measured on what the browser draws: the circles where MapLibre projects them,
the badges and names by the boxes MapLibre's collision index placed them in.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_map import assert_clean, map_site, tiles_missing, wait_idle  # noqa: F401

pytestmark = BROWSER

# Every layer that makes cluster glyphs, on: the most crowded map a supervisor can ask for.
LAYERS = ["equipment", "overdue", "units", "accidents", "resources", "stations"]
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
# Screenshots of the map as it was before this change are taken with SEGIS_CLUTTER_SHOTS=before.
SHOTS = os.environ.get("SEGIS_CLUTTER_SHOTS", "after")

# The circles (projected, with their white edge), and every box in MapLibre's collision index with
# the layers it belongs to. The index is in screen pixels shifted by its viewport padding (100).
MEASURE = """() => {
    const map = segisMap;
    const circles = map.queryRenderedFeatures({layers: ['cluster-anchors']}).map((f) => {
        const p = map.project(f.geometry.coordinates);
        return {x: p.x, y: p.y, r: f.properties.radius + 0.75, cell: f.properties.cell};
    });
    const placement = map.style.placement;
    const index = placement.collisionIndex;
    const boxes = [];
    [index.grid, index.ignoredGrid].forEach((grid) => grid.boxKeys.forEach((key, i) => {
        const data = placement.retainedQueryData[key.bucketInstanceId];
        const layers = data ? data.featureIndex.bucketLayerIDs[data.bucketIndex] : [];
        const [x0, y0, x1, y1] = grid.bboxes.slice(4 * i, 4 * i + 4).map((v) => v - 100);
        boxes.push({layers, box: [x0, y0, x1, y1], feature: `${key.bucketInstanceId}/${key.featureIndex}`});
    }));
    const width = map.getCanvas().clientWidth, height = map.getCanvas().clientHeight;
    // The names a supervisor should be able to read here: the labels of the level on show.
    const named = (layer) => {
        const style = map.getLayer(layer);
        if (!style || map.getZoom() < style.minzoom) return [];
        const wanted = map.getFilter(layer);
        return map.querySourceFeatures('basemap-labels', {filter: wanted}).filter((f) => {
            const p = map.project(f.geometry.coordinates);
            return p.x > 40 && p.y > 40 && p.x < width - 40 && p.y < height - 40;
        }).map((f) => f.properties.name);
    };
    // The badges the composer left out for want of room: their cell's tooltip must name them.
    const glyphs = map.querySourceFeatures('clusters');
    const shown = new Set(glyphs.filter((f) => f.properties.role === 'badge')
        .map((f) => `${f.properties.cell} ${f.properties.layer}`));
    const leftOut = [];
    glyphs.filter((f) => f.properties.role === 'anchor').forEach((f) => Object.entries(f.properties)
        .filter(([k, n]) => k.startsWith('n_') && k.slice(2) !== f.properties.anchor && n > 0)
        .filter(([k]) => !shown.has(`${f.properties.cell} ${k.slice(2)}`))
        .forEach(([k]) => leftOut.push({cell: f.properties.cell, layer: k.slice(2), at: map.project(f.geometry.coordinates)})));
    return {circles, boxes, zoom: map.getZoom(), cityNames: [...new Set(named('city-labels'))],
            countyNames: [...new Set(named('county-labels'))], leftOut,
            titles: Object.fromEntries([...document.querySelectorAll('.layer[data-layer]')].map((row) =>
                [row.dataset.layer, row.querySelector('.layer-title').textContent.trim()]))};
}"""


def overlaps(a, b, slack=0.5) -> bool:
    """Two boxes [x0, y0, x1, y1] share more than a hair's breadth."""
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def covers(circle, box, slack=0.5) -> bool:
    """A circle reaches into a box by more than a hair's breadth."""
    nearest_x = min(max(circle["x"], box[0]), box[2])
    nearest_y = min(max(circle["y"], box[1]), box[3])
    return (nearest_x - circle["x"]) ** 2 + (nearest_y - circle["y"]) ** 2 < (
        circle["r"] - slack
    ) ** 2


def of_layer(measured, layer) -> list[list[float]]:
    """The boxes of a layer's placed symbols, one per symbol (its text's and its icon's together)."""
    merged = {}
    for b in measured["boxes"]:
        if layer in b["layers"]:
            box = merged.get(b["feature"], b["box"])
            merged[b["feature"]] = [min(box[0], b["box"][0]), min(box[1], b["box"][1]),
                                    max(box[2], b["box"][2]), max(box[3], b["box"][3])]  # fmt: skip
    return list(merged.values())


def open_crowded_map(page, base_url, username, size) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    log_in(page, base_url, username)
    page.goto(f"{base_url}/map/")
    try:
        wait_idle(page)
    except Exception:
        raise AssertionError(page.errors) from None
    reason = tiles_missing(page, base_url)
    if reason:
        pytest.skip(reason)
    for layer in LAYERS:
        box = page.locator(f"input[name=layer][value={layer}]")
        if box.count() and box.is_visible():
            page.set_checked(f"input[name=layer][value={layer}]", True)
        elif box.count():
            page.evaluate(
                "(v) => { const b = document.querySelector(`input[name=layer][value=${v}]`);"
                " b.checked = true; b.dispatchEvent(new Event('change', {bubbles: true})); }",
                layer,
            )
    if page.locator("#accident-window").count():
        page.evaluate(
            "() => { const s = document.querySelector('#accident-window'); s.value = '1y';"
            " s.dispatchEvent(new Event('change', {bubbles: true})); }"
        )
    page.wait_for_timeout(600)
    wait_idle(page)
    page.wait_for_timeout(400)  # the symbols' placement settles after the last frame


def clutter(measured) -> dict[str, int]:
    """How cluttered the view is: pairs of overlapping badges, badges over a circle, names under one."""
    badges, names = of_layer(measured, "cluster-badges"), of_layer(measured, "city-labels")
    circles = measured["circles"]
    return {
        "badges": len(badges),
        "left out": len(measured["leftOut"]),
        "badge×badge": sum(overlaps(a, b) for i, a in enumerate(badges) for b in badges[i + 1 :]),
        "badge×circle": sum(covers(c, a) for a in badges for c in circles),
        "city names": len(names),
        "name×circle": sum(covers(c, n) for n in names for c in circles),
    }


def assert_badges_clear(measured) -> None:
    badges = of_layer(measured, "cluster-badges")
    assert badges, "no badge placed"
    for i, a in enumerate(badges):
        for b in badges[i + 1 :]:
            assert not overlaps(a, b), f"badges {a} and {b} overlap"
        for circle in measured["circles"]:
            assert not covers(circle, a), f"badge {a} overlaps circle {circle}"


def assert_left_out_in_tooltip(page, measured) -> None:
    """A badge left out for want of room is still one hover away: its cell's tooltip names its layer."""
    box = page.locator("#map").bounding_box()
    for left in measured["leftOut"][:3]:
        page.mouse.move(box["x"] + left["at"]["x"], box["y"] + left["at"]["y"])
        tooltip = page.wait_for_selector(".segis-tooltip")
        assert measured["titles"][left["layer"]] in tooltip.inner_text(), (
            left,
            tooltip.inner_text(),
        )
        page.mouse.move(box["x"] + 2, box["y"] + 2)


def assert_names_clear(measured, level) -> None:
    names = of_layer(measured, f"{level}-labels")
    wanted = measured[f"{level}Names"]
    assert wanted, f"no {level} name in view"
    # Every name is placed (none was dropped for a circle) …
    assert len(names) >= len(wanted), (names, wanted)
    # … and no circle covers one.
    for box in names:
        for circle in measured["circles"]:
            assert not covers(circle, box), f"name {box} under circle {circle}"


@pytest.mark.parametrize("size", SIZES)
def test_province_zoom_keeps_city_names_clear_of_clusters(map_site, page, size):  # noqa: F811
    username = "province"
    open_crowded_map(page, map_site.url, username, SIZES[size])
    measured = page.evaluate(MEASURE)
    print(f"\n{username} {size} z{measured['zoom']:.2f} {clutter(measured)}")
    page.screenshot(path=ARTIFACTS / f"map-clutter-province-{size}-{SHOTS}.png")
    assert 5 <= measured["zoom"] < 8.5, measured["zoom"]
    assert measured["circles"], "no cluster on the map"
    assert_names_clear(measured, "city")
    assert_badges_clear(measured)
    assert_left_out_in_tooltip(page, measured)
    assert_clean(page)


@pytest.mark.parametrize("size", SIZES)
def test_county_zoom_keeps_badges_clear_of_each_other_and_of_circles(map_site, page, size):  # noqa: F811
    username = "county"
    open_crowded_map(page, map_site.url, username, SIZES[size])
    measured = page.evaluate(MEASURE)
    print(f"\n{username} {size} z{measured['zoom']:.2f} {clutter(measured)}")
    page.screenshot(path=ARTIFACTS / f"map-clutter-county-{size}-{SHOTS}.png")
    assert 8.5 <= measured["zoom"] < 12, measured["zoom"]
    assert len(measured["circles"]) > 3
    assert_badges_clear(measured)
    assert_left_out_in_tooltip(page, measured)
    assert_clean(page)
