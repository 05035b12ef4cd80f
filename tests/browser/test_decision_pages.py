"""Decision support and the annual report as a province supervisor uses them: from the desk to
the coverage gaps (map drawn, sites listed), the risk ranking to a unit's page, the annual report
printed (print media) and downloaded as XLSX that openpyxl opens."""

from __future__ import annotations

from openpyxl import load_workbook

from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def test_decisions_and_the_annual_report(demo_site, page):
    log_in(page, demo_site.url, "province")
    page.goto(demo_site.url + "/analysis/")
    with page.expect_navigation():
        page.click("text=决策分析")
    assert page.locator("#workload-bodies tbody tr").count() >= 1
    page.wait_for_selector("#county-map[data-ready=true]")

    with page.expect_navigation():
        page.click('nav.question-tabs >> text="应急救援覆盖缺口"')
    page.wait_for_selector("#county-map[data-ready=true]")
    assert page.locator("#coverage-counties tbody tr").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "decisions-coverage.png"), full_page=True)

    with page.expect_navigation():
        page.click('nav.question-tabs >> text="使用单位风险排序"')
    first = page.locator("#risk-table tbody tr").first
    name = first.locator("td").nth(1).inner_text().strip()
    with page.expect_navigation():
        first.locator("a").click()
    assert name in page.content()

    page.goto(demo_site.url + "/analysis/report")
    page.wait_for_selector("#report-map[data-ready=true]")
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "annual-report-print.png"), full_page=True)
    assert not page.locator("header.topbar").is_visible()
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.click("#report-xlsx")
    saved = ARTIFACTS / "annual-report.xlsx"
    download.value.save_as(saved)
    book = load_workbook(saved)
    assert len(book.sheetnames) == 7
    assert page.errors == []
