"""绩效评价 as a province supervisor uses it: open the league table, sort it, open a city's score,
follow a component's numerator to the records it counted, and download the table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.conftest import YINCHUAN

pytestmark = BROWSER


def test_a_province_supervisor_reaches_the_devices_behind_a_score(demo_site, page):
    log_in(page, demo_site.url, "province")
    page.goto(f"{demo_site.url}/analysis/")
    with page.expect_navigation():
        page.click("text=绩效评价")
    page.wait_for_selector("#league-chart canvas")
    data = json.loads(page.locator("#evaluation-data").text_content())
    assert page.locator("#league-table tbody tr").count() == len(data["agencies"])
    # Sorting by region name, then back by score.
    page.click("#league-table th:nth-child(2)")
    assert page.locator("#league-table th:nth-child(2)").get_attribute("aria-sort") == "ascending"
    page.screenshot(path=str(ARTIFACTS / "evaluation-province.png"), full_page=True)

    # The city's own score: its components, each numerator a link to the records counted.
    with page.expect_navigation():
        page.click(f"#league-table tr[data-code='{YINCHUAN}'] a")
    own = json.loads(page.locator("#evaluation-data").text_content())["own"]
    assert own["code"] == YINCHUAN
    overdue = next(c for c in own["components"] if c["indicator"] == "overdue_rate")
    with page.expect_navigation():
        page.click("#own-score tr[data-indicator='overdue_rate'] a[data-trace=numerator]")
    assert "/map/list/overdue/" in page.url and "region=6401" in page.url
    page.wait_for_load_state("networkidle")
    assert overdue["numerator"] is not None
    page.go_back()
    with page.expect_navigation():
        page.click("#own-score tr[data-indicator='inspection_rate'] a[data-trace=denominator]")
    rate = next(c for c in own["components"] if c["indicator"] == "inspection_rate")
    assert f"{rate['denominator']} 条" in page.locator(".pager").inner_text()
    assert page.locator("#dues-table tbody tr a").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "evaluation-dues.png"), full_page=True)
    page.go_back()

    with page.expect_download() as download:
        page.click("text=CSV")
    rows = list(
        csv.reader(Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines())
    )
    assert rows[-1][1] == YINCHUAN and float(rows[-1][4]) == own["score"]
    assert not page.errors, page.errors
