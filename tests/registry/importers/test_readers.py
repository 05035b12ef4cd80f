"""Readers: files made here in each accepted format come back as the rows that were written."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest

from registry.importers.errors import IntakeError
from registry.importers.intake import store_upload
from registry.importers.readers import open_rows
from tests.registry.importers.conftest import NAMES, POINTS, refusal, shapefile_zip, write_layer
from tests.registry.importers.layer_files import (
    BEIJING54_PRJ,
    ESRI_WGS84_PRJ,
    GCJ02_PRJ,
    layer,
    shapefile_with_prj,
    two_layer_geopackage,
)

HEADER = ["设备代码", "名称", "经度", "纬度"]
ROWS = [
    ["31103201202400001", "兴庆区电梯一号", "106.2782", "38.4664"],
    ["41703201202400002", "西夏区锅炉二号", "106.1322", "38.4920"],
]


def csv_text(rows=ROWS) -> str:
    return "\r\n".join(",".join(r) for r in [HEADER, *rows]) + "\r\n"


def read_all(upload, **options):
    with open_rows(upload, **options) as reader:
        return reader, list(reader)


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", csv_text().encode("utf-8")),
        ("utf-8-sig", csv_text().encode("utf-8-sig")),
        ("gbk", csv_text().encode("gbk")),
    ],
)
def test_csv_in_each_encoding_reads_the_same_rows(encoding, data):
    upload = store_upload(data, "设备.csv")
    assert (upload.format, upload.encoding, upload.delimiter) == ("csv", encoding, ",")
    reader, rows = read_all(upload)
    assert reader.columns == HEADER  # no BOM left on the first name
    assert [r.number for r in rows] == [2, 3]
    assert [list(r.values.values()) for r in rows] == ROWS
    assert rows[0].geometry is None


def test_csv_with_characters_beyond_gbk_is_read_as_gb18030():
    rows = [[*ROWS[0][:1], "刘䶮𠀀电梯", *ROWS[0][2:]]]
    with pytest.raises(UnicodeEncodeError):
        "𠀀".encode("gbk")  # the file cannot be GBK: only GB18030 holds this character
    upload = store_upload(csv_text(rows).encode("gb18030"), "设备.csv")
    assert upload.encoding == "gb18030"
    _, read = read_all(upload)
    assert read[0].values["名称"] == "刘䶮𠀀电梯"


def test_csv_semicolons_blank_lines_short_and_long_rows():
    text = "a;b;c\n1;2;3\n\n4;5\n6;7;8;9\n"
    upload = store_upload(text.encode(), "x.csv")
    assert upload.delimiter == ";"
    _, rows = read_all(upload)
    assert [(r.number, r.values) for r in rows] == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        (4, {"a": "4", "b": "5", "c": None}),
        (5, {"a": "6", "b": "7", "c": "8", "_extra": ["9"]}),
    ]


def test_csv_blank_and_repeated_headers_get_unique_names():
    upload = store_upload("名称,,名称\n甲,乙,丙\n".encode(), "x.csv")
    reader, rows = read_all(upload)
    assert reader.columns == ["名称", "column_2", "名称_2"]
    assert rows[0].values == {"名称": "甲", "column_2": "乙", "名称_2": "丙"}


def test_xlsx_made_with_openpyxl(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "设备"
    sheet.append(["设备代码", "名称", "额定载荷", "下次检验"])
    sheet.append(["31103201202400001", "兴庆区电梯一号", 1000, dt.date(2026, 5, 1)])
    sheet.append([None, None, None, None])
    sheet.append(["41703201202400002", "西夏区锅炉二号", 2.5, dt.date(2027, 1, 31)])
    path = tmp_path / "x.xlsx"
    workbook.save(path)
    upload = store_upload(path.read_bytes(), "设备.xlsx")
    assert upload.format == "xlsx"
    reader, rows = read_all(upload)
    assert (reader.layer, reader.columns) == ("设备", ["设备代码", "名称", "额定载荷", "下次检验"])
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values["名称"] == "兴庆区电梯一号"
    assert rows[0].values["额定载荷"] == 1000
    assert rows[1].values["下次检验"] == dt.datetime(2027, 1, 31)


def test_xlsx_with_several_sheets_asks_for_one(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["a"])
    workbook.create_sheet("第二").append(["b"])
    path = tmp_path / "x.xlsx"
    workbook.save(path)
    upload = store_upload(path.read_bytes(), "x.xlsx")
    with pytest.raises(Exception) as error:
        open_rows(upload)
    assert refusal(error) == ("layer", "layer")
    _, rows = read_all(upload, layer="第二")
    assert rows == []  # a header and no data


def test_geojson_points_and_chinese_properties():
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [
            {"type": "Feature", "properties": {"name": n, "seq": i},
             "geometry": {"type": "Point", "coordinates": list(p)}}
            for i, (n, p) in enumerate(zip(NAMES, POINTS, strict=True), start=1)
        ],
    }  # fmt: skip
    upload = store_upload(json.dumps(document, ensure_ascii=False).encode(), "设备.geojson")
    assert upload.format == "geojson"
    reader, rows = read_all(upload)
    assert reader.sandboxed
    assert reader.crs == "EPSG:4326"
    assert [r.values for r in rows] == [{"name": NAMES[0], "seq": 1}, {"name": NAMES[1], "seq": 2}]
    assert [(r.shape.x, r.shape.y) for r in rows] == POINTS


def test_geopackage(tmp_path):
    path = write_layer(tmp_path / "x.gpkg", "GPKG", crs="EPSG:4490")
    upload = store_upload(path.read_bytes(), "x.gpkg")
    assert upload.format == "gpkg"
    reader, rows = read_all(upload)
    assert (reader.crs, reader.layer, reader.columns) == ("EPSG:4490", "equipment", ["name", "seq"])
    assert [r.number for r in rows] == [1, 2]
    assert [r.values["name"] for r in rows] == NAMES
    # Lon, lat as stored, though EPSG:4490's authority order is lat, lon.
    assert [(r.shape.x, r.shape.y) for r in rows] == POINTS


def test_zipped_shapefile_with_gbk_dbf_and_cpg(tmp_path):
    data = shapefile_zip(tmp_path, encoding="GBK")
    dbf = (tmp_path / "shp" / "equipment.dbf").read_bytes()
    assert NAMES[0].encode("gbk") in dbf and NAMES[0].encode("utf-8") not in dbf
    upload = store_upload(data, "设备.zip")
    assert (upload.format, upload.encoding) == ("shp", "GBK")
    assert sorted(p.name for p in upload.directory.iterdir() if p.name.startswith("layer")) == [
        "layer.cpg", "layer.dbf", "layer.prj", "layer.shp", "layer.shx"]  # fmt: skip
    reader, rows = read_all(upload)
    assert reader.crs == "EPSG:4326"
    assert [r.values["name"] for r in rows] == NAMES
    assert [(r.shape.x, r.shape.y) for r in rows] == POINTS


def test_gbk_dbf_without_cpg_reads_with_the_encoding_given(tmp_path):
    data = shapefile_zip(tmp_path, encoding="GBK", keep=(".shp", ".shx", ".dbf"))
    upload = store_upload(data, "设备.zip")
    _, rows = read_all(upload, encoding="gbk")
    assert [r.values["name"] for r in rows] == NAMES


def test_encoding_is_only_for_shapefiles_and_from_the_list(tmp_path):
    upload = store_upload(shapefile_zip(tmp_path), "x.zip")
    with pytest.raises(Exception) as error:
        open_rows(upload, encoding="/vsicurl/http://example.com/")
    assert refusal(error) == ("encoding", "encoding")


def test_reading_stopped_early_leaves_no_process(tmp_path):
    upload = store_upload(write_layer(tmp_path / "x.gpkg", "GPKG").read_bytes(), "x.gpkg")
    with open_rows(upload) as reader:
        next(iter(reader))
        child = reader._stream.watch.child
        assert child.poll() is None
    assert child.returncode is not None  # killed and reaped on close


# --------------------------------------------------------------------------- issue 17: CRS, layers


def mercator(points):
    from pyproj import Transformer

    to_metres = Transformer.from_crs(4326, 3857, always_xy=True)
    return [to_metres.transform(lon, lat) for lon, lat in points]


def refused_at_open(upload) -> IntakeError:
    with pytest.raises(IntakeError) as error, open_rows(upload):
        pass
    return error.value


@pytest.mark.parametrize("code", ["EPSG:3857", "EPSG:900913"])
def test_web_mercator_geopackage_is_refused_by_name(tmp_path, code):
    path = layer(tmp_path / "m.gpkg", "GPKG", crs=code, points=mercator(POINTS))
    (finding,) = refused_at_open(store_upload(path.read_bytes(), "m.gpkg")).findings
    assert (finding.field, finding.rule) == ("file", "crs.web_mercator")
    assert "Web Mercator" in finding.message and "EPSG:4326" in finding.suggestion


@pytest.mark.parametrize(
    ("prj", "rule", "named"),
    [
        (GCJ02_PRJ, "crs.offset", "GCJ02"),
        (BEIJING54_PRJ, "crs.unsupported", "EPSG:4214 Beijing 1954"),
    ],
)
def test_a_prj_naming_another_geographic_crs_is_refused_naming_it(tmp_path, prj, rule, named):
    upload = store_upload(shapefile_with_prj(tmp_path / "shp", prj), "设备.zip")
    (finding,) = refused_at_open(upload).findings
    assert (finding.field, finding.rule) == ("file", rule)
    assert named in finding.message


def test_a_web_mercator_prj_is_refused(tmp_path):
    prj = layer(tmp_path / "m.shp", "ESRI Shapefile", crs="EPSG:3857").with_suffix(".prj")
    assert "Mercator_Auxiliary_Sphere" in prj.read_text()  # what ArcGIS and GDAL write
    data = shapefile_with_prj(tmp_path / "shp", prj.read_text(), points=mercator(POINTS))
    (finding,) = refused_at_open(store_upload(data, "设备.zip")).findings
    assert finding.rule == "crs.web_mercator"


@pytest.mark.parametrize(("prj", "crs"), [(ESRI_WGS84_PRJ, "EPSG:4326"), (None, None)])
def test_an_esri_wgs84_prj_or_none_is_read(tmp_path, prj, crs):
    upload = store_upload(shapefile_with_prj(tmp_path / "shp", prj), "设备.zip")
    reader, rows = read_all(upload)
    assert reader.crs == crs  # None: the user declares the CRS on the job
    assert [(r.shape.x, r.shape.y) for r in rows] == POINTS


def test_geopackage_with_two_layers_opens_and_reads_the_layer_chosen(tmp_path):
    upload = store_upload(two_layer_geopackage(tmp_path / "two.gpkg").read_bytes(), "two.gpkg")
    with open_rows(upload) as reader:
        # Accepted, with every layer's columns for the mapping form; rows wait for a choice.
        assert (reader.layer, reader.layers) == (None, ["equipment", "boilers"])
        assert reader.columns == ["name", "seq", "名称", "序号"]
        with pytest.raises(IntakeError) as error:
            next(iter(reader))
    assert refusal(error) == ("layer", "layer")
    assert error.value.findings[0].suggestion == "equipment, boilers"
    reader, rows = read_all(upload, layer="boilers")
    assert (reader.layer, reader.columns) == ("boilers", ["名称", "序号"])
    assert [r.values["名称"] for r in rows] == NAMES


def test_a_layer_with_heights_is_read_in_its_2d_crs(tmp_path):
    features = [
        {"type": "Feature", "properties": {"name": n},
         "geometry": {"type": "Point", "coordinates": [*p, 1120.5]}}
        for n, p in zip(NAMES, POINTS, strict=True)
    ]  # fmt: skip
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    reader, rows = read_all(store_upload(data, "x.geojson"))
    assert reader.crs == "EPSG:4326"  # GDAL says EPSG:4979, WGS 84 with heights
    assert [(r.shape.x, r.shape.y, r.shape.z) for r in rows] == [(*p, 1120.5) for p in POINTS]
