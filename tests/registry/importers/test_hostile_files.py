"""Hostile files make no outbound connection (a loopback listener receives nothing), and a read past
its time or memory bound is stopped and refused.

Each network test first shows that the reference in the file is live: the same file read by plain
pyogrio, outside our defences, does connect to the listener (the control). Then it shows that our
intake or our sandboxed read refuses it and the listener still receives nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import zipfile

import pytest

from registry.importers.errors import IntakeError
from registry.importers.intake import store_upload
from registry.importers.readers import open_rows
from registry.importers.sandbox import gdal_batches
from tests.registry.importers.conftest import refusal, write_layer, zip_bytes

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def vrt(url: str) -> str:
    return textwrap.dedent(f"""\
        <OGRVRTDataSource>
          <OGRVRTLayer name="equipment">
            <SrcDataSource>/vsicurl/{url}/equipment.geojson</SrcDataSource>
          </OGRVRTLayer>
        </OGRVRTDataSource>
    """)


def geojson_linking_crs(url: str) -> bytes:
    """A GeoJSON whose (pre-RFC 7946) crs member is a link: GDAL fetches it over HTTP."""
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "link", "properties": {"href": f"{url}/crs", "type": "ogcwkt"}},
        "features": [{"type": "Feature", "properties": {"a": 1},
                      "geometry": {"type": "Point", "coordinates": [106.2, 38.4]}}],
    }  # fmt: skip
    return json.dumps(document).encode()


def plain_pyogrio_read(path) -> None:
    """The control: GDAL with its defaults, in its own process, as a careless importer would."""
    code = f"import pyogrio\ntry: pyogrio.read_info({str(path)!r})\nexcept Exception: pass\n"
    subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True,
                   env={"GDAL_HTTP_TIMEOUT": "2"})  # fmt: skip


def test_vrt_named_geojson_is_refused_and_connects_nowhere(listener, tmp_path):
    path = tmp_path / "equipment.vrt"
    path.write_text(vrt(listener.url))
    plain_pyogrio_read(path)
    assert listener.connections() >= 1  # the control: the reference is live

    with pytest.raises(IntakeError) as error:
        store_upload(path.read_bytes(), "equipment.geojson")
    assert refusal(error) == ("file", "upload.format")
    assert listener.connections() == 0


def test_geojson_linking_a_remote_crs_is_refused_and_connects_nowhere(listener, tmp_path):
    path = tmp_path / "x.geojson"
    path.write_bytes(geojson_linking_crs(listener.url))
    plain_pyogrio_read(path)
    assert listener.connections() >= 1  # the control

    upload = store_upload(path.read_bytes(), "x.geojson")  # a GeoJSON at first sight
    with pytest.raises(IntakeError) as error:
        open_rows(upload)
    assert refusal(error) == ("file", "geojson.crs")
    assert listener.connections() == 0


@pytest.mark.parametrize(
    "crs",
    [{"type": "name", "properties": {"name": "{url}/crs"}},
     {"type": "name", "properties": {"name": "/etc/passwd"}},
     {"type": "EPSG", "properties": {"code": "{url}"}}],
    ids=["url-name", "file-name", "epsg-not-a-number"],
)  # fmt: skip
def test_geojson_crs_other_than_an_allowed_name_is_refused(listener, crs):
    document = json.loads(geojson_linking_crs(listener.url))
    document["crs"] = json.loads(json.dumps(crs).replace("{url}", listener.url))
    upload = store_upload(json.dumps(document).encode(), "x.geojson")
    with pytest.raises(IntakeError) as error:
        open_rows(upload)
    assert refusal(error)[1] == "geojson.crs"
    assert listener.connections() == 0


def test_geopackage_with_a_remote_virtual_table_is_refused_and_connects_nowhere(listener, tmp_path):
    """GDAL 3.12 itself declines VirtualOGR tables in a GeoPackage (no control connection); intake
    refuses them anyway, so an older or differently configured GDAL is never asked."""
    path = write_layer(tmp_path / "x.gpkg", "GPKG")
    remote = f"CREATE VIRTUAL TABLE remote USING VirtualOGR('/vsicurl/{listener.url}/a.geojson')"
    with sqlite3.connect(path) as db:  # Python's SQLite has no VirtualOGR: write the schema row
        db.execute("PRAGMA writable_schema=ON")
        db.execute(
            "INSERT INTO sqlite_master VALUES ('table', 'remote', 'remote', 0, ?)", (remote,)
        )
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) "
                   "VALUES ('remote', 'attributes', 'remote')")  # fmt: skip
    with pytest.raises(IntakeError) as error:
        store_upload(path.read_bytes(), "x.gpkg")
    assert refusal(error)[1] == "gpkg.view"
    assert listener.connections() == 0


def test_the_sandboxed_read_itself_connects_nowhere(listener, tmp_path):
    """Defence in depth: were intake fooled into passing a VRT, the child still cannot connect."""
    path = tmp_path / "source.gpkg"  # the name intake would give; the content is a VRT
    path.write_text(vrt(listener.url))
    with pytest.raises(IntakeError) as error, gdal_batches(path, "gpkg") as stream:
        list(stream)
    assert refusal(error)[1] == "read.failed"
    assert listener.connections() == 0


def test_the_child_cannot_open_network_sockets(listener):
    """The seccomp filter on its own: a connect() in the child fails, AF_UNIX still works."""
    from registry.importers import gdal_child

    code = textwrap.dedent(f"""\
        import runpy, socket
        child = runpy.run_path({gdal_child.__file__!r})
        assert child["_forbid_network"]()
        socket.socketpair()
        try:
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=2)
        except PermissionError:
            print("refused")
    """)
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.stdout.strip() == "refused", result.stderr
    assert listener.connections() == 0


def test_read_past_the_wall_clock_bound_is_stopped(settings, tmp_path):
    settings.IMPORT_READ_SECONDS = 0.05  # less than the child needs to start
    upload = store_upload(write_layer(tmp_path / "x.gpkg", "GPKG").read_bytes(), "x.gpkg")
    with pytest.raises(IntakeError) as error, open_rows(upload) as reader:
        list(reader)
    assert refusal(error)[1] == "read.timeout"


def test_read_past_the_memory_bound_is_stopped(settings):
    settings.IMPORT_READ_MEMORY_BYTES = 16 * 1024 * 1024
    feature = {"type": "Feature", "properties": {"name": "兴庆区电梯" * 20},
               "geometry": {"type": "Point", "coordinates": [106.2, 38.4]}}  # fmt: skip
    document = {"type": "FeatureCollection", "features": [feature] * 40_000}  # ~12 MB of text
    upload = store_upload(json.dumps(document, ensure_ascii=False).encode(), "x.geojson")
    with pytest.raises(IntakeError) as error, open_rows(upload) as reader:
        list(reader)
    assert refusal(error)[1] == "read.memory"
    settings.IMPORT_READ_MEMORY_BYTES = 1024 * 1024 * 1024
    with open_rows(upload) as reader:
        assert sum(1 for _ in reader) == 40_000


def test_read_past_the_cpu_bound_is_stopped(settings):
    settings.IMPORT_READ_CPU_SECONDS = 1  # the child's imports take about half of it
    feature = {"type": "Feature", "properties": {"name": "兴庆区电梯" * 20},
               "geometry": {"type": "Point", "coordinates": [106.2, 38.4]}}  # fmt: skip
    document = {"type": "FeatureCollection", "features": [feature] * 150_000}
    upload = store_upload(json.dumps(document, ensure_ascii=False).encode(), "x.geojson")
    with pytest.raises(IntakeError) as error, open_rows(upload) as reader:
        list(reader)
    assert refusal(error)[1] == "read.cpu"


def test_gdal_failure_is_refused_without_the_server_path(tmp_path):
    path = tmp_path / "source.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + bytes(500))  # intake would refuse it; GDAL fails
    with pytest.raises(IntakeError) as error, gdal_batches(path, "gpkg") as stream:
        list(stream)
    assert refusal(error)[1] == "read.failed"
    assert str(tmp_path) not in error.value.findings[0].message


# --------------------------------------------------------------------------- hostile XML (issue 17)

SHEET = "xl/worksheets/sheet1.xml"
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(doctype: bytes, entity: bytes) -> bytes:
    """A worksheet whose cell A1 is an inline string holding `entity`, after `doctype`."""
    return (
        b'<?xml version="1.0"?><!-- ' + b"padding " * 300 + b"-->" + doctype
        + b'<worksheet xmlns="' + MAIN + b'"><sheetData><row r="1"><c r="A1" t="inlineStr">'
        b"<is><t>" + entity + b"</t></is></c></row></sheetData></worksheet>"
    )  # fmt: skip


# Nine levels of ten: a thousand million "lol"s, 3 GB, from a part of a few hundred bytes.
LAUGHS = sheet_xml(
    b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10))
    + b"]>",
    b"&lol9;",
)


def external_entity(url: str) -> bytes:
    return sheet_xml(
        b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "' + url.encode() + b'">]>', b"&xxe;"
    )


def workbook_with(tmp_path, sheet: bytes) -> bytes:
    """A real workbook (openpyxl) whose first sheet's XML is replaced."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["名称", "地址"])
    path = tmp_path / "real.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert SHEET in members
    members[SHEET] = sheet
    return zip_bytes(members)


@pytest.mark.parametrize("kind", ["billion laughs", "external file", "external url"])
def test_hostile_workbook_xml_is_refused_at_intake(listener, tmp_path, kind):
    part = {
        "billion laughs": LAUGHS,
        "external file": external_entity("file:///etc/passwd"),
        "external url": external_entity(f"{listener.url}/xxe"),
    }[kind]
    with pytest.raises(IntakeError) as error:
        store_upload(workbook_with(tmp_path, part), "台账.xlsx")
    assert refusal(error) == ("file", "xlsx.dtd")
    assert SHEET in error.value.findings[0].message
    assert listener.connections() == 0


@pytest.mark.parametrize("kind", ["billion laughs", "external url"])
def test_hostile_xml_past_intake_is_refused_by_the_reader_too(listener, tmp_path, kind):
    # As if intake had been bypassed: the stored workbook goes straight to the reader, whose
    # openpyxl parses with defusedxml (an entity declaration is refused, never expanded).
    part = LAUGHS if kind == "billion laughs" else external_entity(f"{listener.url}/xxe")
    plain = sheet_xml(b"", b"\xe7\x94\xb5\xe6\xa2\xaf")  # 电梯
    upload = store_upload(workbook_with(tmp_path, plain), "台账.xlsx")
    with open_rows(upload) as reader:
        assert reader.columns == ["电梯"]  # the control: this sheet reads
    upload.path.write_bytes(workbook_with(tmp_path, part))
    with pytest.raises(IntakeError) as error, open_rows(upload) as reader:
        list(reader)
    assert refusal(error) == ("file", "xlsx.dtd")  # defusedxml's EntitiesForbidden, named
    assert str(upload.directory) not in error.value.findings[0].message
    assert listener.connections() == 0
