"""Intake: uploads stored under generated names, recognised from the content, archives checked
before extraction; every refusal is an IntakeError naming the rule and leaves nothing behind."""

from __future__ import annotations

import errno
import io
import json
import random
import resource
import signal
import sqlite3
import stat
import zipfile

import pytest

from registry.exceptions import RegistryError
from registry.importers.errors import IntakeError
from registry.importers.intake import (
    StorageFull,
    copy_upload,
    discard_upload,
    load_upload,
    store_upload,
)
from tests.registry.importers.conftest import refusal, shapefile_zip, write_layer, zip_bytes
from tests.registry.importers.layer_files import two_layer_geopackage

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
    assert refused(zip_bytes(members), "x.xlsx") == "xlsx.dtd"


# --------------------------------------------------------------------------- issue 17

# Cells whose UTF-8 bytes are also valid GBK: read as GBK, the file decodes "cleanly" as mojibake.
UTF8_ROWS = ["名称,地址", "锅炉,吴忠", "叉车,固原", "索道,惠农", "游乐,平罗"]


def mixed_csv(gbk_rows: dict[int, str], bom: bool = False) -> bytes:
    """UTF8_ROWS, with the rows named (1 = the header) inserted in GBK."""
    lines = list(UTF8_ROWS)
    for number, text in sorted(gbk_rows.items()):
        lines.insert(number - 1, text)
    body = b"".join(
        (line.encode("gbk") if i + 1 in gbk_rows else line.encode()) + b"\n"
        for i, line in enumerate(lines)
    )
    return (b"\xef\xbb\xbf" if bom else b"") + body


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_csv_with_a_gbk_row_is_refused_row_by_row(import_root, bom):
    data = mixed_csv({3: "压力容器,西夏区"}, bom=bom)
    # What used to be committed: the whole file decodes as GBK, 锅炉 becoming 閿呯倝.
    assert "閿呯倝" in data.removeprefix(b"\xef\xbb\xbf").decode("gbk")
    with pytest.raises(IntakeError) as error:
        store_upload(data, "设备.csv")
    (finding,) = error.value.findings
    assert (finding.field, finding.rule) == ("file", "csv.row_encoding")
    assert "第 3 行" in finding.message and "Row 3 " in finding.message
    assert "压力容器,西夏区" in finding.message  # the row as GBK reads it, to find it by
    assert not any(import_root.iterdir())


def test_every_non_utf8_row_is_named_by_its_csv_row_number(import_root):
    # A quoted cell spanning two lines: row numbers are csv's, not the text's line numbers.
    lines = ['设备代码,名称', '31103201202400001,"兴庆区\n电梯一号"', "31103201202400003,金凤区三号",
             "31103201202400004,永宁县四号", "31103201202400005,贺兰县五号"]  # fmt: skip
    data = b"\n".join(line.encode() for line in lines) + b"\n"
    data += "31103201202400006,灵武市六号\n".encode("gbk") + "x,固原市七号\n".encode("gbk")
    with pytest.raises(IntakeError) as error:
        store_upload(data, "设备.csv")
    numbers = [f.message.split("Row ")[1].split(" ")[0] for f in error.value.findings]
    assert numbers == ["6", "7"]


def test_a_gbk_csv_is_still_read_as_gbk():
    data = "\n".join(UTF8_ROWS).encode("gbk") + b"\n"
    assert store_upload(data, "设备.csv").encoding == "gbk"


def test_a_large_gbk_csv_of_short_chinese_cells_is_read_as_gbk():
    # Short cells are where a GBK row could pass for UTF-8 by accident: none must be named.
    hanzi = [bytes([hi, lo]).decode("gbk") for hi in range(0xB0, 0xD7) for lo in range(0xA1, 0xFF)]
    pick = random.Random(17).choice
    rows = [f"{i},{''.join(pick(hanzi) for _ in range(1 + i % 4))}" for i in range(20_000)]
    data = ("序号,名称\n" + "\n".join(rows) + "\n").encode("gbk")
    assert store_upload(data, "设备.csv").encoding == "gbk"


def test_a_utf8_row_in_a_gbk_csv_is_refused_naming_it(import_root):
    lines = ["名称,地址", "压力容器,西夏区", "电梯,兴庆区", "锅炉,金凤区", "叉车,永宁县"]
    data = b"".join(
        (line.encode() if number == 4 else line.encode("gbk")) + b"\n"
        for number, line in enumerate([*lines, "起重机械,贺兰县银河路"], start=1)
    )
    with pytest.raises(IntakeError) as error:
        store_upload(data, "设备.csv")
    (finding,) = error.value.findings
    assert finding.rule == "csv.row_encoding"
    assert "第 4 行是 UTF-8" in finding.message and "Row 4 is UTF-8" in finding.message
    assert not any(import_root.iterdir())


def test_workbook_dtd_hidden_beyond_the_first_kilobyte_is_refused():
    padding = b"<!--" + b"x" * 4096 + b"-->"
    members = {
        "[Content_Types].xml": b"<Types/>",
        "xl/workbook.xml": b'<?xml version="1.0"?>' + padding
        + b'<!DOCTYPE x [<!ENTITY a "aaaa">]><workbook>&a;</workbook>',
    }  # fmt: skip
    assert refused(zip_bytes(members), "x.xlsx") == "xlsx.dtd"


def test_workbook_dtd_spelt_in_utf16_is_refused():
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><sst/>'
    members = {
        "[Content_Types].xml": b"<Types/>",
        "xl/workbook.xml": b"<workbook/>",
        "xl/sharedStrings.xml": xml.encode("utf-16"),
    }
    assert b"<!DOCTYPE" not in members["xl/sharedStrings.xml"].upper()  # the old check's blind spot
    assert refused(zip_bytes(members), "x.xlsx") == "xlsx.dtd"


def test_workbook_part_that_is_not_xml_is_refused_but_images_pass():
    members = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
               "xl/media/image1.png": b"\x89PNG\r\n\x1a\n" + bytes(64)}  # fmt: skip
    assert store_upload(zip_bytes(members), "x.xlsx").format == "xlsx"
    members["xl/styles.xml"] = b"styles, but not XML"
    assert refused(zip_bytes(members), "x.xlsx") == "xlsx.xml"


def test_geopackage_with_two_layers_is_accepted_with_the_layers_listed(tmp_path):
    path = two_layer_geopackage(tmp_path / "two.gpkg")
    upload = store_upload(path.read_bytes(), "two.gpkg")
    (notice,) = upload.notices
    assert (notice.field, notice.rule, notice.severity) == ("layer", "gpkg.layers", "warning")
    assert notice.suggestion == "equipment, boilers"


def test_a_full_disk_is_storage_full_not_an_os_error():
    with open("/dev/full", "wb") as out, pytest.raises(StorageFull) as error:
        copy_upload(CSV * 10_000, out)
    assert isinstance(error.value.__cause__, OSError)
    assert error.value.__cause__.errno == errno.ENOSPC


def test_an_upload_cut_short_by_a_full_disk_leaves_nothing(import_root):
    # The file-size limit stands in for a full disk: the kernel refuses the write past it
    # (EFBIG with SIGXFSZ ignored), half-way through the upload, as ENOSPC would.
    import_root.mkdir(parents=True, exist_ok=True)
    data = CSV * 20_000  # ≈ 1.3 MB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        with pytest.raises(StorageFull):
            store_upload(data, "设备.csv")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert list(import_root.iterdir()) == []
    assert store_upload(data, "设备.csv").size == len(data)  # and with room, it is stored
