"""Issue 17 through the import API: a GeoPackage with two layers is accepted and imported from the
layer the user picks; files whose CRS or encoding would be misread are refused naming why; a full
disk answers 507 and keeps nothing."""

from __future__ import annotations

import resource
import signal

import numpy as np
import pytest
import shapely
from django.test import Client
from pyogrio import raw

from registry.models import Equipment
from registry.models.imports import ImportJob
from tests.conftest import XINGQING
from tests.registry.importers.equipment_rows import HEADER, MAPPING, device_row
from tests.registry.importers.layer_files import GCJ02_PRJ, shapefile_with_prj
from tests.registry.importers.test_import_jobs import client_of, run_worker

pytestmark = pytest.mark.django_db

API = "/api/imports/"
DEVICE_COLUMNS = [c for c in HEADER if c not in ("经度", "纬度")]  # the geometry places them


def ledger_layer(path, rows: list[dict], name: str):
    """A layer with the ledger's columns, added to the GeoPackage at `path`."""
    raw.write(
        str(path),
        geometry=shapely.to_wkb([shapely.Point(float(r["经度"]), float(r["纬度"])) for r in rows]),
        field_data=[np.array([r[c] for r in rows], dtype=object) for c in DEVICE_COLUMNS],
        fields=DEVICE_COLUMNS,
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:4326",
        layer=name,
        append=path.exists(),
    )
    return path


def two_layer_ledger(path, rows: list[dict]):
    """Layer "notes" (a decoy, first) and layer "devices" with the ledger's columns."""
    raw.write(
        str(path), geometry=shapely.to_wkb([shapely.Point(106.2, 38.4)]),
        field_data=[np.array(["备注"], dtype=object)], fields=["说明"], driver="GPKG",
        geometry_type="Point", crs="EPSG:4326", layer="notes",
    )  # fmt: skip
    return ledger_layer(path, rows, "devices")


def post_file(client: Client, path, name: str):
    with open(path, "rb") as data:
        return client.post(API, {"file": data, "dataset": "equipment"}, format="multipart")


def test_a_geopackage_with_two_layers_is_imported_from_the_layer_picked(users, tmp_path):
    client = client_of(users["xingqing"])
    rows = [device_row(1), device_row(2)]
    response = post_file(client, two_layer_ledger(tmp_path / "台账.gpkg", rows), "台账.gpkg")
    assert response.status_code == 201, response.content.decode()
    job = response.json()
    (notice,) = job["notices"]
    assert (notice["rule"], notice["suggestion"]) == ("gpkg.layers", "notes, devices")
    assert job["columns"] == ["说明", *DEVICE_COLUMNS]  # every layer's, until one is picked
    mapping = {k: v for k, v in MAPPING.items() if k not in ("lon", "lat", "device_code")}
    # The layer picked is read again: a column only the other layer has is refused.
    refused = client.post(
        job["urls"]["mapping"],
        {"mapping": {**mapping, "device_code": "说明"}, "layer": "devices"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["mapping"][0]["rule"] == "mapping.column"
    mapping["device_code"] = MAPPING["device_code"]

    picked = client.post(
        job["urls"]["mapping"],
        {"mapping": mapping, "layer": "devices", "source_crs": "wgs84"},
        content_type="application/json",
    )
    assert picked.status_code == 200, picked.content.decode()
    assert (picked.json()["layer"], picked.json()["columns"]) == ("devices", DEVICE_COLUMNS)
    assert client.post(job["urls"]["validate"]).status_code == 202
    run_worker()
    done = client.get(job["urls"]["self"]).json()
    assert (done["state"], done["summary"]["rows"], done["summary"]["errors"]) == (
        "validated",
        2,
        0,
    )
    assert client.post(job["urls"]["commit"]).status_code == 202
    run_worker()
    codes = set(Equipment.objects.filter(region_id=XINGQING).values_list("device_code", flat=True))
    assert codes >= {rows[0]["设备代码"], rows[1]["设备代码"]}


def test_a_layer_never_picked_fails_its_dry_run_saying_so(users, tmp_path):
    # Two layers with the same columns: the mapping fits either, so only the dry run can ask.
    path = ledger_layer(tmp_path / "台账.gpkg", [device_row(1)], "devices_2024")
    ledger_layer(path, [device_row(2)], "devices_2025")
    client = client_of(users["xingqing"])
    job = post_file(client, path, "台账.gpkg").json()
    mapping = {k: v for k, v in MAPPING.items() if k not in ("lon", "lat")}
    response = client.post(
        job["urls"]["mapping"], {"mapping": mapping}, content_type="application/json"
    )
    assert response.status_code == 200, response.content.decode()
    assert client.post(job["urls"]["validate"]).status_code == 202
    run_worker()
    done = client.get(job["urls"]["self"]).json()
    assert done["state"] == "failed"
    assert "devices_2024, devices_2025" in done["error"]
    assert not Equipment.objects.exists()


def test_a_gcj02_prj_is_refused_at_upload_naming_it(users, tmp_path, import_root):
    data = shapefile_with_prj(tmp_path / "shp", GCJ02_PRJ)
    path = tmp_path / "设备.zip"
    path.write_bytes(data)
    response = post_file(client_of(users["xingqing"]), path, "设备.zip")
    assert response.status_code == 400
    problem = response.json()["errors"]["file"][0]
    assert problem["rule"] == "crs.offset" and "GCJ02" in problem["message"]
    assert not ImportJob.objects.exists()
    assert list(import_root.iterdir()) == []


def full_disk(limit_bytes: int = 64 * 1024):
    """The file-size limit stands in for a full disk (EFBIG with SIGXFSZ ignored)."""

    class Full:
        def __enter__(self):
            self.limits = resource.getrlimit(resource.RLIMIT_FSIZE)
            self.handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, self.limits[1]))

        def __exit__(self, *exc):
            resource.setrlimit(resource.RLIMIT_FSIZE, self.limits)
            signal.signal(signal.SIGXFSZ, self.handler)

    return Full()


@pytest.mark.parametrize(
    ("surface", "rows"),
    [
        ("api", 20_000),  # ≈ 0.9 MB: Django keeps it in memory, our copy hits the full disk
        ("page", 20_000),
        ("api", 80_000),  # ≈ 3.6 MB: Django's own temporary file hits it first
        ("page", 80_000),
    ],
)
def test_a_full_disk_answers_507_and_keeps_nothing(
    users, tmp_path, import_root, settings, surface, rows
):
    import_root.mkdir(parents=True, exist_ok=True)
    settings.FILE_UPLOAD_TEMP_DIR = temporary = tmp_path / "django-uploads"
    temporary.mkdir()
    path = tmp_path / "设备台账.csv"
    path.write_bytes(("设备代码,名称\n" + "31103201202400001,兴庆区电梯一号\n" * rows).encode())
    client = client_of(users["xingqing"])
    with full_disk(), open(path, "rb") as data:
        response = client.post(API if surface == "api" else "/imports/", {"file": data})
    assert response.status_code == 507
    body = response.content.decode()
    assert "存储空间已满" in body and "storage is full" in body
    if surface == "api":
        assert response.json()["errors"]["file"][0]["rule"] == "upload.storage_full"
    assert list(import_root.iterdir()) == []
    assert list(temporary.iterdir()) == []
    assert not ImportJob.objects.exists()


def test_the_upload_page_still_checks_csrf_and_meets_a_full_disk_with_it(users, tmp_path, settings):
    # The CSRF check reads the form, which is where a large upload is written to disk: the page
    # runs it itself so that a full disk there is a 507 too, not the middleware's 500.
    settings.FILE_UPLOAD_TEMP_DIR = temporary = tmp_path / "django-uploads"
    temporary.mkdir()
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["xingqing"])
    path = tmp_path / "设备台账.csv"
    path.write_bytes(("设备代码,名称\n" + "31103201202400001,兴庆区电梯一号\n" * 80_000).encode())
    with open(path, "rb") as data:
        assert client.post("/imports/", {"file": data}).status_code == 403  # no token
    client.get("/imports/")
    token = client.cookies["csrftoken"].value
    with full_disk(), open(path, "rb") as data:
        response = client.post("/imports/", {"file": data, "csrfmiddlewaretoken": token})
    assert response.status_code == 507
    assert list(temporary.iterdir()) == []
    with open(path, "rb") as data:
        response = client.post("/imports/", {"file": data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
