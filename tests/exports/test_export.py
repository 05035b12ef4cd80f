"""Regional export of the map layers (exports) and its command, export_layer.

Every file is opened again by GDAL (pyogrio) and compared with what the ORM or PostGIS says
directly: counts from plain ORM filters and from the map's own count endpoint, values from the
rows, coordinates from pyproj and prcoords (never from geo.crs, which the export uses).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import prcoords
import pyogrio
import pytest
import shapely
from django.contrib.gis.geos import LineString, MultiLineString, Point, Polygon
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pyogrio import raw
from pyproj import Transformer

import exports.options
from common.http import content_disposition
from exports.core import export_layer
from exports.naming import export_filename
from exports.options import TARGETS, Area, ExportError, parse_crs, parse_polygon, parse_request
from exports.tables import neutralise
from layers import sources
from layers.fields import COLUMNS, PLACEMARK_NAMES
from layers.filters import parse_query
from maps import counts
from registry.models import Accident, EmergencyResource, Equipment, Unit, UnitRole
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    """The day the server counts in (Asia/Shanghai), read when asked: a run that passes local
    midnight (16:00 UTC) would otherwise set devices up against yesterday."""
    return timezone.localdate()


FORMATS = ["gpkg", "shp", "geojson", "kml", "csv", "xlsx"]
LAYERS = ["equipment", "overdue", "units", "accidents", "resources"]
FORMULAS = ['=HYPERLINK("http://example.invalid","点我")', "@SUM(1+1)", "+1+2", "-3+4"]


# --------------------------------------------------------------------------- data


def jittered(code: str, k: int, spread: float = 0.004) -> Point:
    centre = inside(code)
    return Point(centre.x + spread * math.cos(k), centre.y + spread * math.sin(k), srid=4326)


@pytest.fixture
def registry(make_unit, make_equipment):
    """兴庆区 (mine) and 西夏区 (theirs): devices of two kinds, overdue ones, a pipeline, units,
    accidents and resources; `known` is an elevator with Chinese values in every column."""
    hospital = make_unit(
        XINGQING, name="银川市第一人民医院", contact_name="张三", contact_phone="13800000001"
    )
    keeper = make_unit(XINGQING, roles=(UnitRole.MAINTENANCE,), name="兴庆电梯维保有限公司")
    known = make_equipment(
        XINGQING,
        "3110",
        use_unit=hospital,
        maintenance_unit=keeper,
        location=inside(XINGQING),
        address="兴庆区解放西街1号",
        manufactured_on=dt.date(2019, 3, 15),
        commissioned_on=dt.date(2020, 6, 1),
    )
    mine = [known]
    mine += [make_equipment(XINGQING, "3110", location=jittered(XINGQING, k)) for k in range(3)]
    mine += [
        make_equipment(XINGQING, "4110", location=jittered(XINGQING, 10 + k)) for k in range(2)
    ]
    shady = make_unit(XINGQING, name=FORMULAS[1])
    mine += [
        make_equipment(XINGQING, "3120", location=jittered(XINGQING, 20), address=FORMULAS[0],
                       use_unit=shady),
        make_equipment(XINGQING, "3120", location=jittered(XINGQING, 21), address=FORMULAS[2]),
        make_equipment(XINGQING, "3120", location=jittered(XINGQING, 22), address=FORMULAS[3]),
    ]  # fmt: skip
    centre = inside(XINGQING)
    route = MultiLineString(
        LineString((centre.x - 0.01, centre.y), (centre.x + 0.01, centre.y + 0.002)), srid=4326
    )
    pipeline = make_equipment(XINGQING, "8110", route=route, location=None)
    theirs = [make_equipment(XIXIA, v, location=jittered(XIXIA, k)) for k, v in
              enumerate(["3110", "3110", "3110", "4110"])]  # fmt: skip
    Equipment.objects.update(next_inspection_due=today() + dt.timedelta(days=100))
    late = [mine[1], mine[4], theirs[0]]
    Equipment.objects.filter(pk__in=[e.pk for e in late]).update(
        next_inspection_due=today() - dt.timedelta(days=40)
    )
    Equipment.objects.filter(pk=mine[2].pk).update(next_inspection_due=None)
    Equipment.objects.filter(pk=mine[3].pk).update(status="suspended")
    for code, n in ((XINGQING, 2), (XIXIA, 1)):
        for k in range(n):
            Accident.objects.create(
                occurred_at=timezone.now() - dt.timedelta(days=3 + k),
                location=jittered(code, 30 + k),
                region_id=code,
                kind="困人",
                deaths=k,
                equipment=known if code == XINGQING else None,
            )
            EmergencyResource.objects.create(
                name=f"{code}救援站{k}",
                resource_type="rescue_team",
                location=jittered(code, 40 + k),
                region_id=code,
                contact_name="李四",
                contact_phone="13900000002",
            )
    return {"known": Equipment.objects.get(pk=known.pk), "pipeline": pipeline, "mine": mine,
            "theirs": theirs}  # fmt: skip


# --------------------------------------------------------------------------- reading back


def _plain(value):
    """A value read back by GDAL, as text (dates as YYYY-MM-DD, whole numbers without .0)."""
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(value)[:10]
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    text = str(value)
    if len(text) >= 10 and text[4] == "/" and text[7] == "/":  # KML writes dates as 2020/06/01
        text = text[:10].replace("/", "-")
    return text or None


def _layer_rows(path: Path, layer: str | None = None, rename=None, **options) -> list[dict]:
    meta, _, geometry, fields = raw.read(str(path), layer=layer, **options)
    names = [(rename or {}).get(n, n) for n in meta["fields"]]
    rows = []
    for i in range(len(fields[0]) if fields else len(geometry)):
        row = {name: _plain(column[i]) for name, column in zip(names, fields, strict=True)}
        row["geometry"] = shapely.from_wkb(geometry[i]) if geometry is not None else None
        row["crs"] = meta["crs"]
        rows.append(row)
    return rows


def read_back(path: Path, fmt: str, layer: str, workdir: Path) -> list[dict]:
    """Every feature of an exported file, read by GDAL: {Chinese field name: text, geometry, crs};
    tables get a point geometry from their coordinate columns."""
    if fmt == "shp":
        folder = workdir / "unzipped"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
        with (folder / "fields.csv").open(encoding="utf-8-sig") as handle:
            aliases = {row["别名 alias"]: row["字段 name_zh"] for row in csv.DictReader(handle)}
        return [r for shp in sorted(folder.glob("*.shp")) for r in _layer_rows(shp, rename=aliases)]
    if fmt == "gpkg":
        spatial = [name for name, kind in pyogrio.list_layers(path) if kind is not None]
        return [r for name in spatial for r in _layer_rows(path, layer=name)]
    if fmt == "kml":
        return _layer_rows(path, rename={"Name": PLACEMARK_NAMES[layer]})
    if fmt in ("csv", "xlsx"):
        options = {"HEADERS": "FORCE"} if fmt == "xlsx" else {"AUTODETECT_TYPE": "NO"}
        rows = _layer_rows(path, layer=0, **options)
        for row in rows:
            x, y = row.get("lon", row.get("x")), row.get("lat", row.get("y"))
            row["geometry"] = shapely.Point(float(x), float(y)) if x is not None else None
        return rows
    return _layer_rows(path)


def export_to(tmp_path, user, layer="equipment", fmt="gpkg", crs="wgs84", query=None, area=None,
              **kwargs):  # fmt: skip
    destination = tmp_path / f"out-{layer}-{crs}.{fmt}"
    result = export_layer(user, layer, query, area, fmt, crs, destination, **kwargs)
    return result, read_back(destination, fmt, layer, tmp_path)


def query(layer: str, text: str = ""):
    return parse_query(layer, QueryDict(text))


# --------------------------------------------------------------------------- counts and scope


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_holds_what_the_map_counts(tmp_path, users, registry, fmt):
    user, kinds = users["city"], query("equipment", "kind=3000")
    result, rows = export_to(tmp_path, user, fmt=fmt, query=kinds)
    orm = Equipment.objects.filter(region__code__startswith="6401", kind="3000").count()
    assert result.features == len(rows) == orm == counts.count_features("equipment", user, kinds)
    assert orm == 10  # the fixture's elevators in both counties


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_exports_the_users_rows(tmp_path, users, registry, layer):
    result, rows = export_to(tmp_path, users["xingqing"], layer=layer)
    model = sources.SOURCES[layer].rows(users["national"], timezone.localdate()).model
    expected = {
        "equipment": Equipment.objects.filter(region_id=XINGQING),
        "overdue": Equipment.objects.filter(region_id=XINGQING, status="in_use").exclude(
            next_inspection_due__gte=timezone.localdate()
        ),
        "units": Unit.objects.filter(region_id=XINGQING, location__isnull=False),
        "accidents": Accident.objects.filter(region_id=XINGQING),
        "resources": EmergencyResource.objects.filter(region_id=XINGQING),
    }[layer]
    assert expected.model is model
    assert sorted(int(r["编号"]) for r in rows) == sorted(expected.values_list("pk", flat=True))
    assert result.features == expected.count() > 0
    assert {r["所在区划"] for r in rows} == {"兴庆区"}


def test_a_county_user_gets_only_its_county(tmp_path, users, registry):
    _, mine = export_to(tmp_path, users["xingqing"], fmt="csv")
    _, everything = export_to(tmp_path, users["national"], fmt="csv", crs="cgcs2000")
    theirs = {str(e.pk) for e in registry["theirs"]}
    assert {r["区划代码"] for r in mine} == {XINGQING}
    assert not theirs & {r["编号"] for r in mine}
    assert theirs <= {r["编号"] for r in everything}


def test_the_maps_filters_apply(tmp_path, users, registry):
    filters = query("equipment", "kind=3000&status=suspended")
    _, rows = export_to(tmp_path, users["xingqing"], fmt="geojson", query=filters)
    assert [r["编号"] for r in rows] == [str(registry["mine"][3].pk)]


def test_overdue_days_are_counted_on_the_export_day(tmp_path, users, registry):
    _, rows = export_to(tmp_path, users["xingqing"], layer="overdue", fmt="csv")
    days = {r["编号"]: r["逾期天数"] for r in rows}
    assert days[str(registry["mine"][1].pk)] == "40"
    assert days[str(registry["mine"][2].pk)] is None  # failed inspection: no due date


def test_queries_do_not_grow_with_the_rows(users, registry, tmp_path, make_equipment):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export_layer(users["xingqing"], "equipment", None, None, "gpkg", "wgs84",
                         tmp_path / "q.gpkg", chunk_rows=3)  # fmt: skip
        return len(captured)

    before = queries()
    for k in range(7):
        make_equipment(XINGQING, "3110", location=jittered(XINGQING, 50 + k))
    assert queries() == before


def test_chunks_and_progress(tmp_path, users, registry):
    seen = []
    result, rows = export_to(
        tmp_path, users["xingqing"], fmt="gpkg", chunk_rows=2,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    _, whole = export_to(tmp_path, users["xingqing"], fmt="csv")
    assert sorted(r["编号"] for r in rows) == sorted(r["编号"] for r in whole)
    assert seen[0] == (0, result.features)
    assert seen[-1] == (result.features, result.features)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("fmt", FORMATS)
def test_field_values_including_chinese_come_back(tmp_path, users, registry, fmt):
    known = registry["known"]
    _, rows = export_to(tmp_path, users["xingqing"], fmt=fmt)
    (row,) = [r for r in rows if r["编号"] == str(known.pk)]
    assert row["设备代码"] == known.device_code
    assert row["设备种类"] == "电梯"
    assert row["设备品种代码"] == "3110"
    assert row["设备品种"] == "曳引驱动乘客电梯"
    assert row["设备状态"] == "在用"
    assert row["设备使用地点"] == "兴庆区解放西街1号"
    assert row["使用单位"] == "银川市第一人民医院"
    assert row["维保单位"] == "兴庆电梯维保有限公司"
    assert row["区划代码"] == XINGQING
    assert row["所在区划"] == "兴庆区"
    assert row["制造日期"] == "2019-03-15"
    assert row["投入使用日期"] == "2020-06-01"
    assert row["下次检验日期"] == str(today() + dt.timedelta(days=100))


def test_accident_times_carry_their_offset(tmp_path, users, registry):
    _, rows = export_to(tmp_path, users["xingqing"], layer="accidents", fmt="gpkg")
    accident = Accident.objects.filter(region_id=XINGQING).order_by("id").first()
    (row,) = [r for r in rows if r["编号"] == str(accident.pk)]
    assert dt.datetime.fromisoformat(row["发生时间"]) == accident.occurred_at.replace(microsecond=0)
    assert row["发生时间"].endswith("+08:00")
    assert row["设备代码"] == registry["known"].device_code


@pytest.mark.parametrize("layer", LAYERS)
def test_no_personal_data_leaves(tmp_path, users, registry, layer):
    destination = tmp_path / "p.csv"
    export_layer(users["national"], layer, None, None, "csv", "wgs84", destination)
    text = destination.read_text(encoding="utf-8-sig")
    for secret in ("13800000001", "13900000002", "张三", "李四"):
        assert secret not in text
    names = " ".join(f"{c.name_zh} {c.name_en}" for c in COLUMNS[layer]).lower()
    for word in ("phone", "电话", "contact", "联系人", "身份证", "national id"):
        assert word not in names


# --------------------------------------------------------------------------- coordinates


GCJ = "gcj02"


def expected_xy(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """The point in `crs`, computed with pyproj and prcoords directly."""
    if crs == GCJ:
        moved = prcoords.wgs_gcj(prcoords.Coords(lat, lon))
        return moved.lon, moved.lat
    epsg = {"wgs84": 4326, "cgcs2000": 4490, "webmercator": 3857, "gk35": 4523, "gk36": 4524}[crs]
    return Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)


@pytest.mark.parametrize(
    "fmt, crs",
    [(f, "wgs84") for f in FORMATS]
    + [("gpkg", c) for c in ("cgcs2000", "webmercator", "gk35", "gk36", GCJ)]
    + [("shp", "gk35"), ("shp", GCJ), ("csv", "gk35"), ("csv", GCJ), ("xlsx", "webmercator")],
)
def test_a_known_point_lands_where_pyproj_and_prcoords_put_it(tmp_path, users, registry, fmt, crs):
    known = registry["known"]
    _, rows = export_to(tmp_path, users["xingqing"], fmt=fmt, crs=crs)
    (row,) = [r for r in rows if r["编号"] == str(known.pk)]
    x, y = expected_xy(known.location.x, known.location.y, crs)
    geographic = TARGETS[crs].geographic
    # GeoJSON and the tables keep 7 decimals of a degree (about 1 cm) or millimetres.
    tolerance = 1.5e-7 if geographic else 1.5e-3
    assert row["geometry"].x == pytest.approx(x, abs=tolerance)
    assert row["geometry"].y == pytest.approx(y, abs=tolerance)
    if crs == "gk35":
        assert 35_000_000 < row["geometry"].x < 36_000_000  # the zone number leads the easting
    if fmt in ("gpkg", "shp", "geojson", "kml"):
        assert row["crs"] == f"EPSG:{TARGETS[crs].srid}"
    if fmt in ("csv", "xlsx"):
        assert row["坐标系"] == TARGETS[crs].label


def test_gcj02_is_shifted_and_says_so(tmp_path, users, registry):
    known = registry["known"]
    destination = tmp_path / "g.gpkg"
    export_layer(users["xingqing"], "equipment", None, None, "gpkg", GCJ, destination)
    (row,) = [r for r in _layer_rows(destination, layer="equipment") if r["编号"] == str(known.pk)]
    shift = math.hypot(row["geometry"].x - known.location.x, row["geometry"].y - known.location.y)
    assert 0.001 < shift < 0.02  # hundreds of metres, as GCJ-02 moves points in China
    summary = dict(
        (r["项目 item"], r["内容 value"]) for r in _layer_rows(destination, layer="export_summary")
    )
    assert "GCJ-02" in summary["坐标系 / coordinate system"]
    assert "EPSG:4326" in summary["坐标系 / coordinate system"]


def test_pipelines_are_lines_and_their_halfway_point_in_tables(tmp_path, users, registry):
    pipeline = registry["pipeline"]
    _, gpkg = export_to(tmp_path, users["xingqing"], fmt="gpkg")
    layers = dict(pyogrio.list_layers(tmp_path / "out-equipment-wgs84.gpkg"))
    assert layers["equipment"] == "Point" and layers["equipment_lines"] == "MultiLineString"
    (line,) = [r for r in gpkg if r["编号"] == str(pipeline.pk)]
    assert line["geometry"].equals(shapely.from_wkb(bytes(pipeline.route.wkb)))
    _, table = export_to(tmp_path, users["xingqing"], fmt="csv")
    (row,) = [r for r in table if r["编号"] == str(pipeline.pk)]
    (start, end) = pipeline.route[0].coords
    assert row["geometry"].x == pytest.approx((start[0] + end[0]) / 2, abs=1e-7)
    assert row["geometry"].y == pytest.approx((start[1] + end[1]) / 2, abs=1e-7)
    _, geojson = export_to(tmp_path, users["xingqing"], fmt="geojson")
    (feature,) = [r for r in geojson if r["编号"] == str(pipeline.pk)]
    assert feature["geometry"].geom_type == "MultiLineString"


# --------------------------------------------------------------------------- formats


def test_shapefile_zip_has_aliases_dictionary_prj_and_cpg(tmp_path, users, registry):
    destination = tmp_path / "s.zip"
    export_layer(users["xingqing"], "overdue", None, None, "shp", "gk35", destination)
    with zipfile.ZipFile(destination) as archive:
        names = set(archive.namelist())
        dictionary = list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
        readme = archive.read("README.txt").decode("utf-8-sig")
        cpg = archive.read("overdue.cpg").decode()
        archive.extractall(tmp_path / "s")
    assert {f"overdue.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
    assert all(name.isascii() for name in names)
    assert cpg.strip() == "UTF-8"
    aliases = {row[0]: row[1] for row in dictionary[1:]}
    assert aliases["DEV_CODE"] == "设备代码" and aliases["DAYS_OVER"] == "逾期天数"
    info = pyogrio.read_info(tmp_path / "s" / "overdue.shp")
    assert list(info["fields"]) == [c.alias for c in COLUMNS["overdue"]] == list(aliases)
    assert all(f.isascii() and len(f.encode()) <= 10 for f in info["fields"])
    assert info["crs"] == "EPSG:4523"
    assert "CGCS2000-GK35" in readme and "兴庆区" in readme


def test_shapefile_text_is_cut_at_254_bytes_on_a_character(tmp_path, users, make_equipment):
    long_address = "宁夏回族自治区银川市兴庆区解放西街" * 10  # 510 bytes of UTF-8
    make_equipment(XINGQING, "3110", address=long_address)
    _, rows = export_to(tmp_path, users["xingqing"], fmt="shp")
    (row,) = rows
    assert long_address.startswith(row["设备使用地点"])
    assert 251 <= len(row["设备使用地点"].encode()) <= 254


def test_geojson_is_rfc7946(tmp_path, users, registry):
    destination = tmp_path / "g.geojson"
    export_layer(users["xingqing"], "units", None, None, "geojson", "wgs84", destination)
    body = json.loads(destination.read_text(encoding="utf-8"))
    assert body["type"] == "FeatureCollection" and "crs" not in body
    lon, lat = body["features"][0]["geometry"]["coordinates"]
    assert 104 < lon < 108 and 35 < lat < 40  # lon, lat order
    assert all(len(str(v).split(".")[-1]) <= 7 for v in (lon, lat))


def test_gpkg_is_version_1_2_and_gdal_3_6_opens_it_without_a_warning(tmp_path, users, registry):
    """GDAL 3.6 and QGIS 3.22 warned on every GeoPackage 1.4 file (pyogrio's GDAL 3.12 default)."""
    import sqlite3
    import subprocess

    destination = tmp_path / "v.gpkg"
    export_layer(users["xingqing"], "equipment", None, None, "gpkg", "gk35", destination)
    with sqlite3.connect(destination) as database:
        assert database.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # "GPKG"
        assert database.execute("PRAGMA user_version").fetchone() == (10200,)
    opened = subprocess.run(
        ["/usr/bin/ogrinfo", "-ro", "-so", str(destination)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert opened.stderr == ""  # no "may only be partially supported"
    assert "equipment (Point)" in opened.stdout
    assert "equipment_lines (Multi Line String)" in opened.stdout


def test_gpkg_carries_its_dictionary(tmp_path, users, registry):
    destination = tmp_path / "d.gpkg"
    export_layer(users["xingqing"], "resources", None, None, "gpkg", "webmercator", destination)
    dictionary = _layer_rows(destination, layer="field_dictionary")
    assert [r["字段 name_zh"] for r in dictionary] == [c.name_zh for c in COLUMNS["resources"]]


def test_csv_has_a_bom_and_neutralised_formulas(tmp_path, users, registry):
    destination = tmp_path / "f.csv"
    export_layer(users["xingqing"], "equipment", None, None, "csv", "wgs84", destination)
    data = destination.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    addresses = {r["设备使用地点"] for r in rows}
    assert "'" + FORMULAS[0] in addresses and "'" + FORMULAS[2] in addresses
    assert "'" + FORMULAS[3] in addresses
    assert "'" + FORMULAS[1] in {r["使用单位"] for r in rows}
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_a_20_digit_code_is_text_in_xlsx_and_exact_in_csv(tmp_path, users, registry):
    """Excel reads a CSV's 20-digit registration code as a number (15 significant digits): the
    page sends Excel users to XLSX, where the code is a text cell."""
    code = "31106401042020010001"  # category, division, year-month, sequence: 20 digits
    Equipment.objects.filter(pk=registry["known"].pk).update(registration_code=code)
    destination = tmp_path / "codes.xlsx"
    export_layer(users["xingqing"], "equipment", None, None, "xlsx", "wgs84", destination)
    sheet = openpyxl.load_workbook(destination).worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("注册代码") + 1
    [cell] = [
        row[column - 1] for row in sheet.iter_rows(min_row=2) if row[column - 1].value == code
    ]
    assert cell.data_type == "s"
    table = tmp_path / "codes.csv"
    export_layer(users["xingqing"], "equipment", None, None, "csv", "wgs84", table)
    rows = list(csv.DictReader(io.StringIO(table.read_bytes().decode("utf-8-sig"))))
    assert code in {r["注册代码"] for r in rows}


def test_xlsx_cells_are_text_not_formulas(tmp_path, users, registry):
    destination = tmp_path / "f.xlsx"
    export_layer(users["xingqing"], "equipment", None, None, "xlsx", "webmercator", destination)
    book = openpyxl.load_workbook(destination)
    sheet = book.worksheets[0]
    assert sheet.title == "兴庆区 特种设备"
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert not [c.value for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert {"'" + f for f in FORMULAS} <= values
    x_column = [c.value for c in sheet[1]].index("x")
    assert all(isinstance(row[x_column].value, float) for row in sheet.iter_rows(min_row=2))
    about = book.worksheets[1]
    assert "字段说明" in about.title
    assert "设备代码" in {c.value for c in about["B"]}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+86 951", "'+86 951"),
        ("-x", "'-x"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("-12.5", "-12.5"),  # a plain number stays a number
        ("+3", "+3"),
        ("1e5", "1e5"),
        (-12.5, -12.5),
        (7, 7),
        ("兴庆区", "兴庆区"),
        (None, None),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


# --------------------------------------------------------------------------- area


def test_bbox_and_polygon_limit_the_area(tmp_path, users, registry):
    centre = inside(XINGQING)
    box = (centre.x - 0.002, centre.y - 0.002, centre.x + 0.002, centre.y + 0.002)
    polygon = Polygon.from_bbox(box)
    polygon.srid = 4326
    in_box = (
        Equipment.objects.filter(region_id=XINGQING, location__within=polygon).count()
        + Equipment.objects.filter(route__intersects=polygon).count()
    )
    assert in_box == 2  # the known elevator at the centre and the pipeline through it
    bbox = exports.options.parse_area_bbox(",".join(map(str, box)))
    result, _ = export_to(tmp_path, users["xingqing"], fmt="gpkg", area=Area(bbox=bbox))
    assert result.features == in_box
    shape = parse_polygon(json.dumps({"type": "Feature", "geometry": json.loads(polygon.geojson)}))
    result, _ = export_to(tmp_path, users["xingqing"], fmt="csv", area=Area(polygon=shape))
    assert result.features == in_box


def test_a_region_narrows_and_names_the_file(tmp_path, users, registry):
    result, rows = export_to(tmp_path, users["city"], fmt="csv", area=Area(region=XIXIA))
    assert {r["区划代码"] for r in rows} == {XIXIA}
    assert result.filename == f"西夏区_特种设备_{timezone.localdate():%Y%m%d}_WGS84.csv"
    assert result.ascii_filename == f"{XIXIA}_equipment_{timezone.localdate():%Y%m%d}_wgs84.csv"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("not json", "JSON"),
        ('{"type": "Point", "coordinates": [106, 38]}', "Polygon"),
        ('{"type": "Polygon", "coordinates": "x"}', "coordinates"),
        ('{"type": "Polygon", "coordinates": []}', "empty"),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}',
            "invalid",
        ),
        ('{"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]}', "range"),
        ('{"type": "Polygon", "coordinates": [[[0, 0], [1e999, 0], [0, 1], [0, 0]]]}', "finite"),
    ],
)
def test_a_bad_polygon_is_a_clear_error(text, reason):
    with pytest.raises(ExportError) as caught:
        parse_polygon(text)
    assert list(caught.value.errors) == ["polygon"]
    assert reason.lower() in caught.value.errors["polygon"].lower()


def test_a_huge_polygon_is_refused():
    ring = [[106 + math.cos(k / 1000), 38 + math.sin(k / 1000)] for k in range(6284)]
    big = json.dumps({"type": "Polygon", "coordinates": [ring + [ring[0]]] * 2})
    with pytest.raises(ExportError, match="polygon"):
        parse_polygon(big)


# --------------------------------------------------------------------------- bad requests


def test_every_problem_is_named_at_once(users):
    with pytest.raises(ExportError) as caught:
        parse_request(
            users["xingqing"], layer="equipment", format="dwg", crs="EPSG:2385",
            filters=QueryDict("kind=9999"), region=XIXIA, bbox="1,2,3", polygon="{}",
        )  # fmt: skip
    assert set(caught.value.errors) == {"format", "crs", "kind", "region", "bbox", "polygon"}
    assert "outside your jurisdiction" in caught.value.errors["region"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"layer": "people"}, "layer"),
        ({"format": "dxf"}, "format"),
        ({"crs": "bd09"}, "crs"),
        ({"crs": "EPSG:4544"}, "crs"),  # the CM family is deliberately not offered
        ({"crs": "+proj=longlat +datum=WGS84"}, "crs"),
        ({"crs": "gk46"}, "crs"),
        ({"format": "geojson", "crs": "gcj02"}, "crs"),  # RFC 7946 is WGS84 only
        ({"format": "kml", "crs": "gk35"}, "crs"),
        ({"region": "640105"}, "region"),  # 西夏区: not the user's county
        ({"region": "65"}, "region"),
        ({"region": "6401x"}, "region"),
        ({"filters": QueryDict("region=640105")}, "region"),
    ],
)
def test_bad_input_names_the_parameter(users, params, field):
    request = {"layer": "equipment", "format": "gpkg", "crs": "wgs84", **params}
    with pytest.raises(ExportError) as caught:
        parse_request(users["xingqing"], **request)
    assert list(caught.value.errors) == [field]


def test_region_outside_the_jurisdiction_stops_the_export_itself(tmp_path, users):
    with pytest.raises(ExportError, match="region"):
        export_layer(users["xingqing"], "equipment", None, Area(region=XIXIA), "csv", "wgs84",
                     tmp_path / "x.csv")  # fmt: skip
    assert not (tmp_path / "x.csv").exists()


def test_a_user_without_jurisdiction_exports_nothing(tmp_path, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pw-for-tests")
    with pytest.raises(ExportError, match="user"):
        export_layer(nobody, "equipment", None, None, "csv", "wgs84", tmp_path / "n.csv")


@pytest.mark.parametrize(
    "value, name, srid",
    [
        ("WGS84", "wgs84", 4326),
        ("EPSG:4490", "cgcs2000", 4490),
        ("Web Mercator", "webmercator", 3857),
        ("GCJ-02", "gcj02", 4326),
        ("gk35", "gk35", 4523),
        ("CGCS2000-GK25", "gk25", 4513),
        ("EPSG:4533", "gk45", 4533),
        (4523, "gk35", 4523),
    ],
)
def test_crs_names_map_to_allow_listed_epsg_integers(value, name, srid):
    target = parse_crs(value)
    assert (target.name, target.srid) == (name, srid)
    assert isinstance(target.srid, int)


# --------------------------------------------------------------------------- temporary files


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    root = tmp_path / "system-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_temporary_files_go_on_error_and_interrupt(tmp_path, temp_root, users, registry, fmt,
                                                   error):  # fmt: skip
    def fail(done, total):
        if done:
            raise error

    destination = tmp_path / f"never.{fmt}"
    with pytest.raises(type(error)):
        export_layer(users["xingqing"], "equipment", None, None, fmt, "wgs84", destination,
                     progress=fail, chunk_rows=2)  # fmt: skip
    assert list(temp_root.iterdir()) == []
    assert not destination.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".never")] == []


def test_temporary_files_go_on_success(tmp_path, temp_root, users, registry):
    export_layer(users["xingqing"], "equipment", None, None, "xlsx", "wgs84", tmp_path / "ok.xlsx")
    assert list(temp_root.iterdir()) == []


# --------------------------------------------------------------------------- names


def test_file_names_and_content_disposition():
    day = dt.date(2026, 5, 16)
    name = export_filename(
        '兴庆区/"x"', "overdue", day, TARGETS["gk35"], exports.options.FORMATS["gpkg"]
    )
    assert name == "兴庆区_x_逾期未检设备_20260516_CGCS2000-GK35.gpkg"
    header = content_disposition(name, "640104_overdue_20260516_gk35.gpkg")
    assert header == (
        'attachment; filename="640104_overdue_20260516_gk35.gpkg"; '
        "filename*=UTF-8''%E5%85%B4%E5%BA%86%E5%8C%BA_x_%E9%80%BE%E6%9C%9F%E6%9C%AA%E6%A3%80"
        "%E8%AE%BE%E5%A4%87_20260516_CGCS2000-GK35.gpkg"
    )
    assert content_disposition("plain.csv") == 'attachment; filename="plain.csv"'
    assert 'filename="__.csv"' in content_disposition('"\\.csv')


# --------------------------------------------------------------------------- the command


def test_command_writes_the_file_and_reports(tmp_path, users, registry):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_layer", user="xingqing", layer="equipment", format="csv", crs="gk35",
        filter=["kind=3000"], output=tmp_path, stdout=out, stderr=err,
    )  # fmt: skip
    expected = Equipment.objects.filter(region_id=XINGQING, kind="3000").count()
    (written,) = tmp_path.glob("*.csv")
    assert written.name == f"兴庆区_特种设备_{timezone.localdate():%Y%m%d}_CGCS2000-GK35.csv"
    assert len(read_back(written, "csv", "equipment", tmp_path)) == expected
    assert f"{expected} features" in out.getvalue() and "rows/s" in out.getvalue()
    assert "rows" in err.getvalue()  # the progress bar


def test_command_reads_a_polygon_file(tmp_path, users, registry):
    centre = inside(XINGQING)
    ring = [[centre.x - 1e-4, centre.y - 1e-4], [centre.x + 1e-4, centre.y - 1e-4],
            [centre.x + 1e-4, centre.y + 1e-4], [centre.x - 1e-4, centre.y + 1e-4]]  # fmt: skip
    polygon = tmp_path / "area.geojson"
    polygon.write_text(json.dumps({"type": "Polygon", "coordinates": [ring + [ring[0]]]}))
    out = io.StringIO()
    call_command("export_layer", user="xingqing", layer="equipment", polygon=polygon,
                 output=tmp_path / "a.gpkg", stdout=out, verbosity=0)  # fmt: skip
    assert out.getvalue().startswith("1 features")  # the known elevator, at the centre


@pytest.mark.parametrize(
    "options, message",
    [
        ({"user": "ghost"}, "--user"),
        ({"layer": "people"}, "--layer"),
        ({"crs": "bd09"}, "--crs"),
        ({"region": XIXIA}, "--region"),
        ({"filter": ["kind"]}, "--filter"),
        ({"filter": ["kind=9999"]}, "--filter kind"),
        ({"bbox": "1,2"}, "--bbox"),
        ({"polygon": Path("/nonexistent/area.geojson")}, "--polygon"),
    ],
)
def test_command_bad_input_is_a_command_error(tmp_path, users, options, message):
    arguments = {"user": "xingqing", "layer": "equipment", "output": tmp_path, **options}
    with pytest.raises(CommandError, match=message):
        call_command("export_layer", stdout=io.StringIO(), stderr=io.StringIO(), **arguments)
    assert list(tmp_path.iterdir()) == []
