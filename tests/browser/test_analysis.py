"""The analysis desk as a province supervisor uses it: open it, drill down to a county through the
map and the table, back up by the breadcrumb, download a chart's CSV and find the chart's numbers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.conftest import NINGXIA, XINGQING, YINCHUAN

pytestmark = BROWSER


def _data(page) -> dict:
    return json.loads(page.locator("#analysis-data").text_content())


def test_a_province_supervisor_drills_down_and_downloads(demo_site, page):
    log_in(page, demo_site.url, "province")
    page.click("nav >> text=统计分析")
    page.wait_for_selector("#region-map[data-ready=true]")
    assert page.locator("#breadcrumb").inner_text().strip() == "宁夏回族自治区"
    # Every indicator has its card; the province's cities are the table's rows.
    assert page.locator(".icard").count() == len(_data(page)["overview"]["indicators"])
    assert page.locator("#regions-table tbody tr").count() >= 5
    page.screenshot(path=str(ARTIFACTS / "analysis-province.png"), full_page=True)

    # Down to the city by the region table (the choropleth and the ranking open the same URL)…
    with page.expect_navigation():
        page.click(f"#regions-table tr[data-code='{YINCHUAN}'] a")
    page.wait_for_selector("#region-map[data-ready=true]")
    # …and on to the county.
    with page.expect_navigation():
        page.click(f"#regions-table tr[data-code='{XINGQING}'] a")
    page.wait_for_selector("#region-map[data-ready=true]")
    crumbs = page.locator("#breadcrumb").inner_text()
    assert "宁夏回族自治区" in crumbs and "银川市" in crumbs and "兴庆区" in crumbs
    data = _data(page)
    assert data["overview"]["area"]["code"] == XINGQING
    assert data["overview"]["parent"]["code"] == YINCHUAN  # the province covers the city
    assert [row["code"] for row in data["regions"]["regions"]] == [XINGQING]
    page.screenshot(path=str(ARTIFACTS / "analysis-county.png"), full_page=True)

    # The trend chart's table view and its CSV: the same years and values.
    page.click("[data-toggle=trend-table]")
    assert page.locator("#trend-table").is_visible()
    with page.expect_download() as download:
        page.click("#trend-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    trend = next(i for i in data["overview"]["indicators"] if i["key"] == "devices")["trend"]
    assert [[int(r[0]), int(r[1])] for r in rows] == [[p["year"], p["value"]] for p in trend]
    shown = page.locator("#trend-table tbody tr td:nth-child(2)").all_inner_texts()
    assert [int(v.replace(",", "")) for v in shown] == [p["value"] for p in trend]

    # Back up to the province by the breadcrumb.
    with page.expect_navigation():
        page.click(f"#breadcrumb a[data-code='{NINGXIA}']")
    assert _data(page)["overview"]["area"]["code"] == NINGXIA
    assert page.errors == [] and page.foreign_requests == []


def test_the_desk_fits_a_phone(demo_site, page):
    log_in(page, demo_site.url, "county")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo_site.url}/analysis/")
    page.wait_for_selector("#region-map[data-ready=true]")
    # Nothing wider than the screen but the tables, which scroll in their own box.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390
    page.screenshot(path=str(ARTIFACTS / "analysis-phone.png"), full_page=True)
    assert page.errors == []


def test_from_the_desk_to_a_countys_devices_behind_its_score_and_its_annual_report(demo_site, page):
    """Issue 18's walk: a province supervisor opens the desk, drills down to a county, opens a
    component of that agency's score, reaches the devices behind it, downloads the annual report."""
    from openpyxl import load_workbook

    log_in(page, demo_site.url, "province")
    page.click("nav >> text=统计分析")
    page.wait_for_selector("#region-map[data-ready=true]")
    for code in (YINCHUAN, XINGQING):
        with page.expect_navigation():
            page.click(f"#regions-table tr[data-code='{code}'] a")
        page.wait_for_selector("#region-map[data-ready=true]")
    assert _data(page)["overview"]["area"]["code"] == XINGQING

    # The county agency's own score, every component shown.
    with page.expect_navigation():
        page.click("#evaluation-link")
    own = json.loads(page.locator("#evaluation-data").text_content())["own"]
    assert own["code"] == XINGQING and own["components"]
    overdue = next(c for c in own["components"] if c["indicator"] == "overdue_rate")
    assert overdue["numerator"] > 0  # the demo's county has overdue devices
    with page.expect_navigation():
        page.click("#own-score tr[data-indicator='overdue_rate'] a[data-trace=numerator]")
    # The devices the component counted: as many rows as its numerator, each one of the county's.
    assert "/map/list/overdue/" in page.url
    summary = page.locator(".list-summary").inner_text().replace(",", "")
    assert f"共 {overdue['numerator']} 条" in summary
    assert page.locator("#layer-rows tbody tr[data-id]").count() == min(overdue["numerator"], 50)
    page.screenshot(path=str(ARTIFACTS / "analysis-journey-devices.png"), full_page=True)

    # Back on the county's desk: its annual report, printable and as XLSX.
    page.goto(f"{demo_site.url}/analysis/?region={XINGQING}")
    with page.expect_navigation():
        page.click("#annual-report")
    page.wait_for_selector("#report-map[data-ready=true]")
    with page.expect_download() as download:
        page.click("#report-xlsx")
    saved = ARTIFACTS / "annual-report-county.xlsx"
    download.value.save_as(saved)
    book = load_workbook(saved)
    assert "兴庆区" in book[book.sheetnames[0]]["A2"].value
    assert page.errors == [] and page.foreign_requests == []
