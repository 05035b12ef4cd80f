"""Intake: uploads stored under generated names, recognised from the content, archives checked
before extraction; every refusal is an IntakeError naming the rule and leaves nothing behind."""

from __future__ import annotations

import io
import json
import random
import sqlite3
import stat
import zipfile

import pytest

from registry.exceptions import RegistryError
from registry.importers.errors import IntakeError
from registry.importers.intake import discard_upload, load_upload, store_upload
from tests.registry.importers.conftest import refusal, shapefile_zip, write_layer, zip_bytes

CSV = "设备代码,名称\n31103201202400001,兴庆区电梯一号\n".encode()


def refused(data: bytes, name: str = "x.bin") -> str:
    with pytest.raises(IntakeError) as error:
        store_upload(data, name)
    return refusal(error)[1]


def test_stored_under_a_generated_name_whatever_the_user_called_it(import_root):
    upload = store_upload(CSV, "../../etc/passwd.csv")
    assert upload.path.parent.parent == import_root
    assert "passwd" not in str(upload.path) and upload.path.name == "source.csv"
    assert upload.original_name == "../../etc/passwd.csv"
    assert stat.S_IMODE(upload.directory.stat().st_mode) == 0o700


def test_a_file_like_object_is_stored_too():
    assert store_upload(io.BytesIO(CSV), "x.csv").size == len(CSV)


def test_load_and_discard_by_token(import_root):
    upload = store_upload(CSV, "名单.csv")
    assert load_upload(upload.token) == upload
    discard_upload(upload)
    assert list(import_root.iterdir()) == []
    with pytest.raises(IntakeError):
        load_upload(upload.token)
    with pytest.raises(IntakeError):
        load_upload("../" + upload.token)


def test_refusal_is_a_registry_error_with_field_rule_and_message():
    with pytest.raises(RegistryError) as error:
        store_upload(b"", "x.csv")
    assert error.value.as_dict()["file"][0]["rule"] == "upload.empty"
    assert "empty" in error.value.as_dict()["file"][0]["message"]


def test_refused_uploads_leave_nothing_behind(import_root):
    for data in (b"", b"<VRTDataset/>", random.Random(7).randbytes(4096)):
        with pytest.raises(IntakeError):
            store_upload(data, "x.csv")
    assert list(import_root.iterdir()) == []


def test_oversized_upload(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1_000
    assert refused(b"a,b\n" + b"1,2\n" * 300, "x.csv") == "upload.too_large"


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "upload.empty"),
        (random.Random(7).randbytes(4096), "upload.format"),
        (b"\x00\x01\x02\x03" * 100, "upload.format"),
        ("a,b\n1,2\n".encode("utf-16"), "upload.encoding"),
        (b'<?xml version="1.0"?><VRTDataset></VRTDataset>', "upload.format"),
        (b'[{"type": "Feature"}]', "upload.format"),
        (b'{"type": "Topology", "objects": {}}', "geojson.type"),
        (b"SQLite format 3\x00" + bytes(200), "gpkg.application_id"),
        (b"PK\x03\x04 not really a zip", "zip.damaged"),
    ],
    ids=["empty", "random", "binary", "utf16", "vrt", "json-array", "topojson", "sqlite", "zip"],
)
def test_content_outside_the_allow_list_is_refused(data, rule):
    assert refused(data) == rule


def test_geojson_must_be_utf8():
    document = '{"type": "FeatureCollection", "features": [], "name": "兴庆区"}'
    assert refused(document.encode("gbk"), "x.geojson") == "geojson.encoding"


def test_geojson_size_limit(settings):
    settings.IMPORT_MAX_GEOJSON_BYTES = 100
    document = {"type": "FeatureCollection", "features": [], "name": "x" * 200}
    assert refused(json.dumps(document).encode(), "x.geojson") == "geojson.too_large"


def test_content_wins_over_the_name_and_the_mismatch_is_reported():
    upload = store_upload(CSV, "设备.geojson")
    assert upload.format == "csv"
    assert [n.rule for n in upload.notices] == ["upload.name_mismatch"]
    assert upload.notices[0].severity == "warning"
    assert store_upload(CSV, "设备.csv").notices == ()


def test_sqlite_database_that_is_not_a_geopackage_is_refused(tmp_path):
    path = tmp_path / "x.gpkg"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a)")
    assert refused(path.read_bytes(), "x.gpkg") == "gpkg.application_id"


def _gpkg_with(tmp_path, statement: str) -> bytes:
    path = write_layer(tmp_path / "x.gpkg", "GPKG")
    with sqlite3.connect(path) as db:
        db.execute(statement)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("CREATE VIEW v AS SELECT * FROM equipment", "gpkg.view"),
        ("CREATE TRIGGER t AFTER INSERT ON equipment BEGIN SELECT "
         "ogr_geocode('/vsicurl/http://127.0.0.1:9/'); END", "gpkg.external"),
        ("CREATE TABLE notes (url TEXT DEFAULT 'http://127.0.0.1:9/')", "gpkg.external"),
    ],
    ids=["view", "trigger", "default"],
)  # fmt: skip
def test_geopackage_reaching_beyond_itself_is_refused(tmp_path, statement, rule):
    assert refused(_gpkg_with(tmp_path, statement), "x.gpkg") == rule


# --------------------------------------------------------------------------- archives


def _zip_with(info: zipfile.ZipInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name", ["../x.shp", "a/../../x.shp", "/etc/x.shp", "C:/x.shp", "..\\x.shp", "C:\\x.shp"]
)
def test_members_escaping_the_directory_are_refused(name):
    assert refused(_zip_with(zipfile.ZipInfo(name)), "x.zip") == "zip.path"


def test_symlink_member_is_refused():
    link = zipfile.ZipInfo("equipment.shp")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert refused(_zip_with(link, b"/etc/passwd"), "x.zip") == "zip.link"


def test_zip_bomb_is_refused_from_the_directory_before_extraction(import_root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("equipment.dbf", bytes(50 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100_000  # a ratio near 1000:1
    assert refused(data, "x.zip") == "zip.ratio"
    assert list(import_root.iterdir()) == []


def test_total_uncompressed_size_limit(settings, tmp_path):
    settings.IMPORT_ZIP_MAX_UNCOMPRESSED_BYTES = 100
    assert refused(shapefile_zip(tmp_path), "x.zip") == "zip.too_large"


def test_member_count_limit(settings):
    settings.IMPORT_ZIP_MAX_MEMBERS = 3
    members = {f"f{i}.txt": b"x" for i in range(4)}
    assert refused(zip_bytes(members), "x.zip") == "zip.members"


@pytest.mark.parametrize("name", ["inner.zip", "inner.bin"])
def test_nested_archive_is_refused(tmp_path, name):
    inner = shapefile_zip(tmp_path)
    assert refused(zip_bytes({name: inner}), "x.zip") == "zip.nested"


def test_encrypted_member_is_refused():
    data = bytearray(_zip_with(zipfile.ZipInfo("equipment.shp")))
    # zipfile writes no encrypted members: set the flag bit in the local and central headers.
    data[6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    assert refused(bytes(data), "x.zip") == "zip.encrypted"


@pytest.mark.parametrize(
    ("keep", "rule"),
    [((".shp", ".shx"), "shp.missing_part"), ((".dbf", ".shx"), "shp.count")],
    ids=["no-dbf", "no-shp"],
)
def test_incomplete_shapefile_is_refused(tmp_path, keep, rule):
    assert refused(shapefile_zip(tmp_path, keep=keep), "x.zip") == rule


def test_two_shapefiles_in_one_archive_are_refused(tmp_path):
    data = shapefile_zip(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {m: archive.read(m) for m in archive.namelist()}
    members.update({f"b/{name}": content for name, content in members.items()})
    assert refused(zip_bytes(members), "x.zip") == "shp.count"


def test_unknown_code_page_and_odd_prj_are_refused(tmp_path):
    data = shapefile_zip(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {m: archive.read(m) for m in archive.namelist()}
    assert refused(zip_bytes({**members, "equipment.cpg": b"/vsicurl/x"}), "x.zip") == "shp.cpg"
    prj = b'GEOGCS["x",AUTHORITY["http://127.0.0.1:9/"]]'
    assert refused(zip_bytes({**members, "equipment.prj": prj}), "x.zip") == "shp.prj"


def test_shapefile_sidecars_are_ignored_and_reported(tmp_path):
    data = shapefile_zip(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {m: archive.read(m) for m in archive.namelist()}
    members.update({"equipment.sbn": b"x", "__MACOSX/._equipment.shp": b"x"})
    upload = store_upload(zip_bytes(members), "x.zip")
    assert [n.rule for n in upload.notices] == ["shp.ignored"]
    assert "equipment.sbn" in upload.notices[0].message
    assert not (upload.directory / "equipment.sbn").exists()


def test_workbook_with_a_doctype_is_refused():
    members = {
        "[Content_Types].xml": b"<Types/>",
        "xl/workbook.xml": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><workbook/>',
    }
    assert refused(zip_bytes(members), "x.xlsx") == "xlsx.doctype"
