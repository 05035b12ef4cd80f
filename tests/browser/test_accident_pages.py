"""The accident analysis as a province supervisor uses it: from the desk to 事故分析, the hot-spot
map drawn, a breakdown's table and CSV holding the chart's numbers, a filter applied, at desktop
and phone size."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def _summary(page) -> dict:
    return json.loads(page.locator("#accidents-data").text_content())["summary"]


def test_a_province_supervisor_reads_the_accidents(demo_site, page):
    log_in(page, demo_site.url, "province")
    page.click("nav >> text=统计分析")
    with page.expect_navigation():
        page.click("#accidents-link")
    page.wait_for_selector("#hotspot-map[data-ready=true]")
    summary = _summary(page)
    assert page.locator("#total-accidents").inner_text() == f"{summary['totals']['accidents']:,}"
    page.screenshot(path=str(ARTIFACTS / "accidents-province.png"), full_page=True)

    # The cause chart's table and its CSV: the same numbers as the page's own.
    page.click("[data-toggle=cause-table]")
    assert page.locator("#cause-table").is_visible()
    with page.expect_download() as download:
        page.click("#cause-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    _, *rows = list(csv.reader(io.StringIO(text)))
    assert [int(r[1]) for r in rows] == [r["accidents"] for r in summary["by_cause"]]

    # The overdue hot spots, then a filter that leaves no accident.
    with page.expect_navigation():
        page.click('text="超期未检率"')
    page.wait_for_selector("#hotspot-map[data-ready=true]")
    assert int(page.locator("#hotspots-tested").inner_text()) >= 0
    page.select_option("select[name=severity]", "extraordinary")
    with page.expect_navigation():
        page.click("#accident-filters button[type=submit]")
    assert _summary(page)["totals"]["accidents"] == 0
    assert page.locator("#accident-list tbody").inner_text().strip().startswith("无事故")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "accidents-phone.png"), full_page=True)
