"""The import pages (/imports/) as the demo county supervisor drives them: headless Debian Chromium,
a live server, and django-tasks-db's real worker process for the dry runs and commits.

A ledger with a bad row is uploaded, mapped and dry-run: the report names the row and commit stays
disabled. The corrected ledger is dry-run and committed: "N new". The same file again: "0 new,
0 changed, N unchanged". Screenshots in tests/artifacts/import-*.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from registry.models import Equipment
from registry.models.imports import ImportJob
from registry.synthetic.codes import credit_code, device_code
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.conftest import XINGQING
from tests.registry.importers.equipment_rows import MAPPING, csv_file, device_row

pytestmark = BROWSER

ROOT = Path(settings.BASE_DIR)
ROWS = 6
BAD_ROW = 4  # the file's row number (the header is row 1) of the row with an unknown variety


@pytest.fixture
def import_site(demo_site, settings, tmp_path):
    settings.IMPORT_ROOT = tmp_path / "imports"
    return demo_site


def database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgis://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def run_worker_process() -> None:
    """`manage.py db_worker --batch` on the live server's database: every queued job, then exit."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE":
           "config.settings.test", "IMPORT_ROOT": str(settings.IMPORT_ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
        cwd=ROOT, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()


def ledger(bad: bool) -> list[dict]:
    """Elevators in 兴庆区 under codes of a maker the demo data does not use."""
    rows = [
        device_row(
            n,
            **{
                "设备代码": device_code("3110", "B7777", 2021, n),
                "使用单位统一社会信用代码": credit_code(XINGQING, 8_800_000),
                "使用单位名称": "兴庆导入测试物业公司",
            },
        )
        for n in range(1, ROWS + 1)
    ]
    if bad:
        rows[BAD_ROW - 2]["设备品种代码"] = "9999"
    return rows


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"import-{name}.png"), full_page=True)


def upload(page, base_url: str, rows: list[dict], name: str) -> ImportJob:
    page.goto(f"{base_url}/imports/")
    page.set_input_files(
        "#upload-file",
        files=[{"name": name, "mimeType": "text/csv", "buffer": csv_file(rows).getvalue()}],
    )
    page.fill("#upload-source", "兴庆区特检所")
    with page.expect_navigation():
        page.click("#upload-button")
    page.wait_for_selector("#mapping-form")
    return ImportJob.objects.latest("id")


def wait_state(page, state: str) -> None:
    page.wait_for_selector(f"#import-job[data-state={state}]", state="attached", timeout=30_000)


def dry_run(page, queued_shot: str = "") -> None:
    page.click("#dry-run-button")
    wait_state(page, "queued")
    assert page.is_visible("#job-progress") and page.is_disabled("#dry-run-button")
    if queued_shot:
        shot(page, queued_shot)
    run_worker_process()
    wait_state(page, "validated")
    page.wait_for_selector("#findings tbody tr, #no-findings:not([hidden])", state="attached")


def commit(page) -> str:
    page.click("#commit-button")
    wait_state(page, "queued")
    run_worker_process()
    wait_state(page, "committed")
    return page.text_content("#headline")


def test_a_ledger_uploaded_checked_corrected_and_committed(import_site, page):
    base = import_site.url
    log_in(page, base, "county")
    page.goto(f"{base}/imports/")
    assert page.locator("nav a[href='/imports/']").count() == 1
    shot(page, "1-upload")

    # The ledger with a bad row: every column suggested, the report names the row.
    job = upload(page, base, ledger(bad=True), "兴庆区电梯台账.csv")
    for element, column in MAPPING.items():
        assert page.input_value(f"select[data-element={element}]") == column, element
    assert page.locator(".map-row.required").count() == 2
    page.select_option("#source-crs", "wgs84")
    shot(page, "2-mapping")
    dry_run(page, queued_shot="2b-queued")
    assert page.text_content("[data-count=errors]") == "1"
    assert page.text_content("[data-count=rows]") == str(ROWS)
    row = page.locator(f"#findings tbody tr[data-row='{BAD_ROW}'].severity-error")
    assert row.count() == 1 and "9999" in row.text_content()
    assert page.is_disabled("#commit-button")
    page.select_option("#severity-filter", "warning")
    page.wait_for_function("() => !document.querySelector('#findings tr.severity-error')")
    page.select_option("#severity-filter", "error")
    page.wait_for_selector("#findings tbody tr.severity-error")
    shot(page, "3-report-with-error")
    assert not Equipment.objects.filter(device_code__contains="B7777").exists()

    # The corrected ledger: no error, commit, the headline.
    job = upload(page, base, ledger(bad=False), "兴庆区电梯台账-修正.csv")
    dry_run(page)
    assert page.text_content("[data-count=errors]") == "0"
    assert page.is_enabled("#commit-button")
    assert commit(page).endswith(f"{ROWS} new, 0 changed, 0 unchanged")
    shot(page, "4-committed")
    assert Equipment.objects.filter(device_code__contains="B7777").count() == ROWS

    # The same file again changes nothing.
    job = upload(page, base, ledger(bad=False), "兴庆区电梯台账-修正.csv")
    dry_run(page)
    assert commit(page).endswith(f"0 new, 0 changed, {ROWS} unchanged")
    shot(page, "5-reimported")
    assert Equipment.objects.filter(device_code__contains="B7777").count() == ROWS
    job.refresh_from_db()
    assert job.state == "committed"

    page.goto(f"{base}/imports/")
    assert page.locator("#import-jobs tbody tr").count() == 3
    shot(page, "6-my-imports")
    assert page.errors == []
    assert page.foreign_requests == []
