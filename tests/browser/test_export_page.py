"""The export page (/export/) as an analyst drives it: headless Debian Chromium, a live server, and
django-tasks-db's real worker process for the background job.

From the map's "Export" link to a file opened again by GDAL: the same count as the map's, a
polygon drawn by clicking, a download under its Chinese name, a background job followed to its
link, and a bad box named beside its field.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pyogrio
import pytest
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPoint
from django.db import connection

from exports.models import ExportJob
from registry.models import Equipment
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_map import open_map, wait_idle

pytestmark = BROWSER

ROOT = Path(settings.BASE_DIR)
AREA_IDLE = """() => document.body.dataset.areaMapReady === 'true' && segisExportMap.loaded()
    && !segisExportMap.isMoving()"""


@pytest.fixture
def export_site(demo_site, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    return demo_site


def database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgis://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def run_worker_process() -> None:
    """`manage.py db_worker --batch`, as `./segis demo` runs it (without --batch), on the live
    server's database: every queued export, then it exits."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE":
           "config.settings.test", "EXPORT_ROOT": str(settings.EXPORT_ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
        cwd=ROOT, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()


def click_lnglat(page, lon: float, lat: float, **options) -> None:
    point = page.evaluate("([lon, lat]) => segisExportMap.project([lon, lat])", [lon, lat])
    box = page.locator("#area-map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"], **options)


def estimated_rows(page) -> int:
    page.click("#estimate-button")
    page.wait_for_function("() => document.querySelector('#estimate').dataset.rows !== undefined")
    rows = int(page.eval_on_selector("#estimate", "node => node.dataset.rows"))
    page.eval_on_selector("#estimate", "node => { delete node.dataset.rows; }")
    return rows


def test_the_maps_link_opens_the_export_with_the_maps_count(export_site, page):
    open_map(page, export_site.url, "city")
    page.set_checked("input[name=layer][value=overdue]", False)
    page.check("input[name=kind][value='3000']")
    page.wait_for_timeout(1000)  # the counts are asked for 250 ms after the last change
    wait_idle(page)
    count = page.locator("[data-count-for=equipment]")
    page.wait_for_function("(el) => /^[0-9,]+$/.test(el.textContent)", arg=count.element_handle())
    on_map = int(count.text_content().replace(",", ""))
    with page.expect_navigation():
        page.click("#map-export")
    query = parse_qs(urlparse(page.url).query)
    assert query["layer"] == ["equipment"] and query["kind"] == ["3000"] and query["bbox"]
    page.wait_for_function(AREA_IDLE, timeout=30_000)
    assert page.input_value("select[name=layer]") == "equipment"
    assert page.is_checked("input[name=kind][value='3000']")
    assert page.input_value("#export-bbox") == query["bbox"][0]
    assert estimated_rows(page) == on_map > 0
    page.screenshot(path=ARTIFACTS / "export-from-map.png", full_page=True)
    assert page.errors == [] and page.foreign_requests == []


def test_an_analyst_draws_a_polygon_downloads_and_follows_a_background_job(
    export_site, page, tmp_path
):
    log_in(page, export_site.url, "city")
    page.click("header .menu-head:has-text('数据')")
    page.click("header nav a:has-text('导出')")
    page.wait_for_url(f"{export_site.url}/export/")
    page.wait_for_function(AREA_IDLE, timeout=30_000)

    # Only the chosen layer's filters are on the form.
    page.select_option("select[name=layer]", "units")
    assert page.is_visible("select[name=role]") and not page.is_visible("select[name=variety]")
    page.select_option("select[name=layer]", "equipment")
    assert page.is_visible("select[name=variety]") and not page.is_visible("select[name=role]")

    # A bad box is named beside its field, and nothing is recorded.
    page.fill("#export-bbox", "106.3,38.5")
    page.click("#estimate-button")
    error = page.locator("[data-error-for=bbox]")
    error.wait_for()
    assert "minlon,minlat,maxlon,maxlat" in error.text_content()
    page.screenshot(path=ARTIFACTS / "export-bad-box.png", full_page=True)
    page.fill("#export-bbox", "")

    # A triangle around where 兴庆区's elevators are, clicked corner by corner, closed by a double
    # click.
    elevators = Equipment.objects.filter(region_id="640104", kind="3000").exclude(location=None)
    centre = MultiPoint([e.location for e in elevators]).centroid
    corners = [(centre.x - 0.05, centre.y - 0.04), (centre.x + 0.05, centre.y - 0.04),
               (centre.x, centre.y + 0.05)]  # fmt: skip
    page.click("#draw-start")
    for lon, lat in corners[:-1]:
        click_lnglat(page, lon, lat)
    click_lnglat(page, *corners[-1], click_count=2)
    page.wait_for_function(
        "() => document.querySelector('#export-polygon').value.includes('Polygon')"
    )
    drawn = page.input_value("#export-polygon")
    inside = Equipment.objects.filter(location__intersects=_polygon_ewkt(drawn)).count()
    inside += Equipment.objects.filter(route__intersects=_polygon_ewkt(drawn)).count()
    page.check("input[name=kind][value='3000']")
    rows = estimated_rows(page)
    kind_inside = Equipment.objects.filter(kind="3000", location__intersects=_polygon_ewkt(drawn))
    assert rows == kind_inside.count() > 0 and inside >= rows
    assert "立即下载" in page.text_content("#estimate")
    page.screenshot(path=ARTIFACTS / "export-polygon-estimate.png", full_page=True)

    # Small: the response is the file, under its Chinese name.
    page.select_option("select[name=crs]", "gk35")
    with page.expect_download() as downloading:
        page.click("#export-button")
    download = downloading.value
    assert re.fullmatch(r"银川市_特种设备_\d{8}_CGCS2000-GK35\.gpkg", download.suggested_filename)
    saved = tmp_path / "direct.gpkg"
    download.save_as(saved)
    assert pyogrio.read_info(saved, layer="equipment")["features"] == rows

    # Large (or asked for): a background job, queued, then run by the real worker.
    page.select_option("select[name=format]", "geojson")
    assert page.input_value("select[name=crs]") == "wgs84"  # GeoJSON is WGS84 by its RFC
    page.check("input[name=background]")
    with page.expect_navigation():
        page.click("#export-button")
    job = ExportJob.objects.filter(task_id__gt="").get()
    assert page.url.endswith(f"#job-{job.pk}")
    # The page the job is followed on keeps the choices it was asked with.
    assert page.is_checked("input[name=kind][value='3000']")
    assert page.input_value("select[name=format]") == "geojson"
    assert page.input_value("#export-polygon") == drawn
    item = page.locator(f"#job-{job.pk}")
    assert item.get_attribute("data-state") == "queued"
    page.screenshot(path=ARTIFACTS / "export-job-queued.png", full_page=True)
    run_worker_process()
    page.wait_for_function(
        "(id) => document.getElementById(`job-${id}`).dataset.state === 'done'",
        arg=job.pk,
        timeout=20_000,
    )
    link = item.locator("a.job-download")
    assert link.is_visible() and "有效至" in item.text_content()
    page.screenshot(path=ARTIFACTS / "export-job-done.png", full_page=True)
    with page.expect_download() as downloading:
        link.click()
    saved = tmp_path / downloading.value.suggested_filename
    assert saved.name.endswith("_WGS84.geojson") and saved.name.startswith("银川市_")
    downloading.value.save_as(saved)
    assert pyogrio.read_info(saved)["features"] == rows
    # The one error in the console is the refused box's 400 above.
    assert [e for e in page.errors if "/export/estimate" not in e] == []
    assert page.foreign_requests == []


def _polygon_ewkt(geojson: str) -> str:
    return GEOSGeometry(geojson, srid=4326).ewkt


@pytest.mark.parametrize("width, height, name", [(1440, 900, "desktop"), (390, 844, "phone")])
def test_the_page_sends_excel_users_to_xlsx(export_site, page, width, height, name):
    """Excel turns a CSV's 19–20-digit codes into numbers: the format step says to choose XLSX,
    and says it louder while CSV is chosen."""
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, export_site.url, "city")
    page.goto(f"{export_site.url}/export/")
    page.wait_for_function(AREA_IDLE, timeout=30_000)
    note = page.locator("#excel-note")
    assert note.is_visible()
    assert "XLSX" in note.text_content() and "19–20" in note.text_content()
    xlsx = page.locator("#export-format option[value=xlsx]").text_content()
    assert "Excel" in xlsx and "用 Excel 请选此项" in xlsx
    assert "Excel" not in page.locator("#export-format option[value=csv]").text_content()
    assert "attention" not in note.get_attribute("class")
    page.select_option("#export-format", "csv")
    assert "attention" in note.get_attribute("class")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    section = page.locator("section.box", has=page.locator("#export-format"))
    section.scroll_into_view_if_needed()
    section.screenshot(path=ARTIFACTS / f"export-excel-note-{name}.png")
    page.screenshot(path=ARTIFACTS / f"export-page-{name}.png", full_page=True)
    assert page.errors == [] and page.foreign_requests == []
