"""Filling records imported through the import page as the county supervisor does it: the
dataset chosen on /imports/, the columns suggested from the Chinese headers, a dry run whose report
shows the violations to be recorded, the commit, and the same file again adding nothing.
Screenshots at desktop and phone size in tests/artifacts/cylinder-import-*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cylinders import services as cylinder_services
from cylinders.models import FillingRecord, Violation
from registry import services
from registry.models import UnitRole
from registry.synthetic.codes import credit_code
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_import_page import commit, dry_run, import_site  # noqa: F401
from tests.conftest import inside
from tests.cylinders.test_imports import FILLING_HEADER
from tests.registry.importers.record_files import csv_bytes

pytestmark = BROWSER


@pytest.fixture
def station(import_site):  # noqa: F811
    station = services.register_unit(
        acting_user=None, name="兴庆导入充装站", roles=[UnitRole.FILLING],
        credit_code=credit_code("640104", 8_900_001), location=inside("640104"),
    )  # fmt: skip
    cylinder_services.grant_filling_licence(
        station, acting_user=None, number="TS4640002-2030", valid_until=dt.date(2030, 1, 1)
    )
    return station


def shot(page, name: str) -> None:
    for size, viewport in (("desktop", (1440, 900)), ("phone", (390, 844))):
        page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        page.screenshot(path=str(ARTIFACTS / f"cylinder-import-{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def ledger(station) -> bytes:
    day = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    rows = [
        ["CYL-IMPORT-UNKNOWN", station.credit_code, f"{day} 09:30", "液化石油气", "14.5", "合格", "TSR1"],
        ["CYL-IMPORT-UNKNOWN", station.credit_code, f"{day} 10:30", "液化石油气", "14.5", "不合格", "TSR1"],
    ]  # fmt: skip
    return csv_bytes(FILLING_HEADER, rows)


def upload(page, base_url: str, data: bytes) -> None:
    page.goto(f"{base_url}/imports/")
    page.select_option("#upload-dataset", "fillings")
    page.set_input_files(
        "#upload-file", files=[{"name": "充装记录.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.fill("#upload-source", "兴庆导入充装站")
    with page.expect_navigation():
        page.click("#upload-button")
    page.wait_for_selector("#mapping-form")


def test_fillings_imported_through_the_page(import_site, station, page):  # noqa: F811
    base = import_site.url
    log_in(page, base, "county")
    page.goto(f"{base}/imports/")
    assert page.locator("#upload-dataset option[value=fillings]").count() == 1
    assert page.locator("#upload-dataset option[value=cylinders]").count() == 1
    shot(page, "1-upload")

    upload(page, base, ledger(station))
    assert page.input_value("select[data-element=filled_at]") == "充装时间"
    assert (
        page.input_value("select[data-element=station_credit_code]") == "充装单位统一社会信用代码"
    )
    shot(page, "2-mapping")
    dry_run(page)
    assert page.text_content("[data-count=errors]") == "0"
    assert (
        page.locator("#findings tbody tr.severity-warning").count() == 3
    )  # 2 unregistered, 1 check
    assert FillingRecord.objects.filter(station=station).count() == 0
    shot(page, "3-report")
    assert commit(page).endswith("2 new, 0 changed, 0 unchanged")
    assert (
        FillingRecord.objects.filter(station=station).count() == 2
        and Violation.objects.filter(station=station).count() == 3
    )
    shot(page, "4-committed")

    upload(page, base, ledger(station))
    dry_run(page)
    assert commit(page).endswith("0 new, 0 changed, 2 unchanged")
    assert FillingRecord.objects.filter(station=station).count() == 2
    assert page.errors == [] and page.foreign_requests == []
