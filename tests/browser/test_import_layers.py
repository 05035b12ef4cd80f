"""Picking the layer of a two-layer GeoPackage on the import job page, as the county supervisor
does it in headless Debian Chromium: the layers offered as a list, the column lists narrowed to the
layer once the mapping is saved with it, a layer whose columns the mapping lacks refused by name,
and a dry run that reads the layer picked. Screenshots (desktop 1366x900, phone 390x844) in
tests/artifacts/import-layer-*.png.
"""

from __future__ import annotations

import pytest

from registry.models.imports import ImportJob
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in
from tests.browser.test_import_page import import_site, run_worker_process, wait_state
from tests.registry.importers.layer_files import two_layer_geopackage

pytestmark = BROWSER
__all__ = ["import_site"]  # the fixture, used by name below

# layer_files: "equipment" (name, seq) then "boilers" (名称, 序号), two points each.
LAYERS = ["equipment", "boilers"]
EVERY_COLUMN = ["name", "seq", "名称", "序号"]


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"import-layer-{name}.png"), full_page=True)


def offered(page, selector: str) -> list[str]:
    """The values a select offers, its empty choice left out."""
    return [
        v
        for v in page.eval_on_selector_all(f"{selector} option", "os => os.map(o => o.value)")
        if v
    ]


def above(page, first: str, then: str) -> bool:
    """Whether `first` ends above where the first of `then` begins, as laid out now."""
    top = page.locator(first).bounding_box()
    below = page.locator(then).first.bounding_box()
    return top is not None and below is not None and top["y"] + top["height"] <= below["y"]


def script_errors(page) -> list[str]:
    """The page's errors but the console lines of the mapping refusals the test provokes."""
    return [e for e in page.errors if not ("400" in e and "/mapping/" in e)]


def refused_rules(page) -> list[str]:
    page.wait_for_selector("#mapping-errors:not([hidden])")
    return page.eval_on_selector_all(
        "#mapping-errors [data-rule]", "ps => ps.map(p => p.dataset.rule)"
    )


@pytest.fixture
def gpkg_job(import_site, page, tmp_path) -> tuple[str, ImportJob]:
    """The county supervisor on the job page of a two-layer GeoPackage uploaded as units."""
    base = import_site.url
    log_in(page, base, "county")
    page.goto(f"{base}/imports/")
    path = two_layer_geopackage(tmp_path / "锅炉单位.gpkg")
    page.set_input_files(
        "#upload-file",
        files=[{"name": "锅炉单位.gpkg", "mimeType": "application/geopackage+sqlite3",
                "buffer": path.read_bytes()}],
    )  # fmt: skip
    page.select_option("#upload-dataset", "units")
    with page.expect_navigation():
        page.click("#upload-button")
    page.wait_for_selector("#layer-select")
    return base, ImportJob.objects.latest("id")


def test_the_layers_are_offered_as_a_list_with_every_layers_columns(gpkg_job, page):
    _, job = gpkg_job
    assert (job.format, job.layer) == ("gpkg", "")
    assert offered(page, "#layer-select") == LAYERS
    assert page.input_value("#layer-select") == ""
    assert page.locator("#layer-field.required").count() == 1
    # No layer yet: every layer's columns, the unit name suggested from the first.
    assert offered(page, "select[data-element=name]") == EVERY_COLUMN
    assert page.input_value("select[data-element=name]") == "name"
    assert page.text_content("#fact-columns") == "4"

    page.set_viewport_size({"width": 1366, "height": 900})
    assert above(page, "#layer-select", "select[data-element]")  # the columns depend on it
    shot(page, "desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    assert above(page, "#layer-select", "select[data-element]")
    # Nothing may stick out sideways on a phone: the page scrolls only downwards.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#layer-select").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(page, "phone")
    assert page.errors == []
    assert page.foreign_requests == []


def test_no_dry_run_before_a_layer_is_picked(gpkg_job, page):
    _, job = gpkg_job
    page.click("#dry-run-button")
    assert refused_rules(page) == ["layer"]
    assert "equipment, boilers" in page.text_content("#mapping-errors")
    job.refresh_from_db()
    assert job.state == "uploaded" and job.layer == ""
    assert page.errors == []  # refused in the page: no request made


def test_a_layer_picked_narrows_the_columns_and_its_rows_are_dry_run(gpkg_job, page):
    _, job = gpkg_job
    # "boilers" has no column "name": the server refuses the mapping by its column, nothing saved,
    # and the lists keep every column so the right one can be picked.
    page.select_option("#layer-select", "boilers")
    assert refused_rules(page) == ["mapping.column"]
    job.refresh_from_db()
    assert job.layer == ""
    assert offered(page, "select[data-element=name]") == EVERY_COLUMN
    page.select_option("select[data-element=name]", "名称")
    shot(page, "refused")

    # Saved with the layer: the lists now offer its own columns only, the facts follow.
    page.click("#dry-run-button")
    wait_state(page, "queued")
    assert offered(page, "select[data-element=name]") == ["名称", "序号"]
    assert page.input_value("select[data-element=name]") == "名称"
    assert page.text_content("#fact-columns") == "2"
    job.refresh_from_db()
    assert (job.layer, job.mapping["name"]) == ("boilers", "名称")
    run_worker_process()
    wait_state(page, "validated")
    assert page.text_content("[data-count=rows]") == "2"
    job.refresh_from_db()
    assert job.summary["rows"] == 2
    shot(page, "validated")

    # Back to the other layer: its column is gone from the lists, so the save is refused and
    # every column seen on the page is offered again.
    page.select_option("#layer-select", "equipment")
    assert refused_rules(page) == ["mapping.column"]
    assert offered(page, "select[data-element=name]") == EVERY_COLUMN
    page.select_option("select[data-element=name]", "name")
    page.click("#dry-run-button")
    wait_state(page, "queued")
    assert offered(page, "select[data-element=name]") == ["name", "seq"]
    assert page.text_content("#fact-columns") == "2"
    job.refresh_from_db()
    assert (job.layer, job.mapping["name"]) == ("equipment", "name")
    assert script_errors(page) == []
