"""The region statistics layer of the export: per region of the area, the figures the map's region
choropleth (/map/regions.geojson) shows for the same user and filters, in every format and CRS,
with the region's stored boundary; scoped like the map (a county user gets its county alone)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import shapely
from django.core.management import call_command
from django.http import QueryDict
from django.utils import timezone
from pyproj import Transformer

from exports.core import count_rows, export_layer, layer_rows
from exports.options import TARGETS, Area, ExportError, parse_area_bbox, parse_request
from geo.models import Level, Region
from layers.fields import COLUMNS
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN, inside
from tests.exports.test_export import _layer_rows, read_back
from tests.maps import test_map_page
from tests.maps.test_map_page import figures, regions_of

pytestmark = pytest.mark.django_db

# The choropleth tests' fixtures: equipment of every status, due and overdue, with and without a
# location, pipelines, in three counties of two cities; accidents of several ages.
place, registry = test_map_page.place, test_map_page.registry

LEVELS = {level.value: str(level.label).split(" / ")[0] for level in Level}
COUNTS = {
    "设备数": "devices",
    "在用设备数": "in_use",
    "逾期设备数": "overdue",
    "事故数": "accidents",
}
RATES = {"逾期率": "overdue_rate", "每万台事故数": "accident_rate"}


def export_regions(tmp_path, user, fmt="gpkg", crs="wgs84", params="", area=None):
    request = parse_request(user, layer="regions", format=fmt, crs=crs, filters=QueryDict(params))
    destination = tmp_path / f"regions-{fmt}-{crs}{request.format.extension}"
    result = export_layer(user, "regions", request.query, area, fmt, crs, destination)
    return result, read_back(destination, fmt, "regions", tmp_path)


def assert_same_figures(rows: list[dict], body: dict) -> None:
    """Every exported row holds its region's choropleth properties, and every region is there."""
    expected = figures(body)
    assert sorted(r["区划代码"] for r in rows) == sorted(expected)
    for row in rows:
        p = expected[row["区划代码"]]
        assert row["区划名称"] == p["name"]
        assert row["区划级别"] == LEVELS[p["level"]]
        for column, name in COUNTS.items():
            assert int(float(row[column])) == p[name], (row["区划代码"], column)
        for column, name in RATES.items():
            if p[name] is None:
                assert row[column] is None, (row["区划代码"], column)
            else:
                assert float(row[column]) == pytest.approx(p[name], abs=1e-12), column


def choropleth(client, user, params: str = "") -> dict:
    return regions_of(client, user, **dict(QueryDict(params).items()))


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize(
    "fmt, crs",
    [("gpkg", "gk35"), ("shp", "cgcs2000"), ("geojson", "wgs84"), ("kml", "wgs84"),
     ("csv", "webmercator"), ("xlsx", "gcj02")],
)  # fmt: skip
def test_every_format_holds_the_choropleths_figures(client, tmp_path, users, registry, fmt, crs):
    params = "kind=3000,4000&window=1y"
    result, rows = export_regions(tmp_path, users["city"], fmt, crs, params)
    body = choropleth(client, users["city"], params)
    assert_same_figures(rows, body)
    assert result.features == len(rows) == len(body["features"]) > 2
    assert any(r["逾期率"] is None for r in rows)  # a county without devices: no rate, not 0


@pytest.mark.parametrize(
    "user, params",
    [
        ("province", ""),
        ("province", "status=suspended"),
        ("province", f"region={YINCHUAN[:4]}"),
        ("city", "window=30d"),
        ("city", "accident_from=2000-01-01&accident_to=2100-12-31&kind=3000"),
        ("national", ""),
    ],
)
def test_the_maps_filters_give_the_maps_figures(client, tmp_path, users, registry, user, params):
    _, rows = export_regions(tmp_path, users[user], "csv", params=params)
    assert_same_figures(rows, choropleth(client, users[user], params))


def test_a_county_user_gets_its_own_county_only(client, tmp_path, users, registry):
    _, rows = export_regions(tmp_path, users["xingqing"], "geojson")
    assert [r["区划代码"] for r in rows] == [XINGQING]
    assert_same_figures(rows, choropleth(client, users["xingqing"]))
    assert int(rows[0]["设备数"]) > 0
    assert count_rows(users["xixia"], "regions", None) == 1


def test_the_area_region_narrows_like_the_map_region_filter(client, tmp_path, users, registry):
    area = Area(region=YINCHUAN[:4])
    _, rows = export_regions(tmp_path, users["province"], "gpkg", area=area)
    assert_same_figures(rows, choropleth(client, users["province"], f"region={YINCHUAN[:4]}"))
    assert {r["区划代码"][:4] for r in rows} == {YINCHUAN[:4]}


def test_a_box_keeps_the_regions_it_meets_with_their_whole_figures(
    client, tmp_path, users, registry
):
    centre = inside(XINGQING)
    box = parse_area_bbox(
        f"{centre.x - 1e-3},{centre.y - 1e-3},{centre.x + 1e-3},{centre.y + 1e-3}"
    )
    _, rows = export_regions(tmp_path, users["province"], "csv", area=Area(bbox=box))
    whole = figures(choropleth(client, users["province"]))
    assert [r["区划代码"] for r in rows] == [YINCHUAN]
    assert int(rows[0]["设备数"]) == whole[YINCHUAN]["devices"]


def test_count_rows_counts_the_regions(client, users, registry):
    for user in ("province", "city", "xingqing"):
        body = choropleth(client, users[user])
        assert count_rows(users[user], "regions", None) == len(body["features"])


# --------------------------------------------------------------------------- boundaries and points


def test_the_file_carries_the_stored_boundary(tmp_path, users, registry):
    _, rows = export_regions(tmp_path, users["city"], "gpkg")
    stored = dict(Region.objects.filter(code__startswith="6401").values_list("code", "boundary"))
    for row in rows:
        assert row["geometry"].equals(shapely.from_wkb(bytes(stored[row["区划代码"]].wkb)))
    assert rows[0]["crs"] == "EPSG:4326"


@pytest.mark.parametrize("fmt, crs", [("gpkg", "gk35"), ("shp", "webmercator")])
def test_a_known_point_lies_in_its_region_in_the_chosen_crs(tmp_path, users, registry, fmt, crs):
    _, rows = export_regions(tmp_path, users["city"], fmt, crs)
    (row,) = [r for r in rows if r["区划代码"] == XINGQING]
    known = inside(XINGQING)
    x, y = Transformer.from_crs(4490, TARGETS[crs].srid, always_xy=True).transform(known.x, known.y)
    assert row["geometry"].contains(shapely.Point(x, y))
    assert row["crs"] == f"EPSG:{TARGETS[crs].srid}"


@pytest.mark.parametrize("fmt, crs", [("csv", "wgs84"), ("csv", "gk35"), ("xlsx", "webmercator")])
def test_tables_give_a_point_inside_each_region(tmp_path, users, registry, fmt, crs):
    _, rows = export_regions(tmp_path, users["city"], fmt, crs)
    move = Transformer.from_crs(4490, TARGETS[crs].srid, always_xy=True)
    for row in rows:
        point = Region.objects.get(code=row["区划代码"]).boundary.point_on_surface  # GEOS, in SQL
        x, y = move.transform(point.x, point.y)
        tolerance = 1.5e-7 if TARGETS[crs].geographic else 1.5e-3
        assert row["geometry"].x == pytest.approx(x, abs=tolerance)
        assert row["geometry"].y == pytest.approx(y, abs=tolerance)


# --------------------------------------------------------------------------- files


def test_shapefile_zip_of_regions_has_ascii_aliases_and_dictionary(tmp_path, users, registry):
    destination = tmp_path / "r.zip"
    export_layer(users["province"], "regions", None, None, "shp", "gk35", destination)
    with zipfile.ZipFile(destination) as archive:
        names = set(archive.namelist())
        dictionary = list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
        readme = archive.read("README.txt").decode("utf-8-sig")
    assert {f"regions.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
    aliases = [row[0] for row in dictionary[1:]]
    assert aliases == [c.alias for c in COLUMNS["regions"]]
    assert all(a.isascii() and len(a.encode()) <= 10 for a in aliases)
    assert "区划统计" in readme and "宁夏回族自治区" in readme


def test_the_summary_names_the_filters_and_the_accident_window(tmp_path, users, registry):
    destination = tmp_path / "s.gpkg"
    request = parse_request(users["city"], layer="regions", format="gpkg",
                            filters=QueryDict("kind=3000&window=30d"))  # fmt: skip
    export_layer(users["city"], "regions", request.query, None, "gpkg", "wgs84", destination)
    summary = {r["项目 item"]: r["内容 value"] for r in _layer_rows(destination, "export_summary")}
    assert "kind=3000" in summary["筛选条件 / filters"]
    assert "近30天" in summary["事故时间范围 / accident window"]
    assert summary["要素数 / features"] == str(
        Region.objects.counties().filter(code__startswith="6401").count()
    )


def test_the_file_is_named_after_region_and_layer(tmp_path, users, registry):
    result, _ = export_regions(tmp_path, users["city"], "csv")
    assert result.filename == f"银川市_区划统计_{timezone.localdate():%Y%m%d}_WGS84.csv"
    assert result.ascii_filename == f"6401_regions_{timezone.localdate():%Y%m%d}_wgs84.csv"


def test_the_command_exports_regions(client, tmp_path, users, registry):
    out = io.StringIO()
    call_command(
        "export_layer", user="province", layer="regions", format="xlsx", crs="gk36",
        filter=["kind=3000", "window=1y"], output=tmp_path / "r.xlsx", stdout=out, verbosity=0,
    )  # fmt: skip
    rows = read_back(tmp_path / "r.xlsx", "xlsx", "regions", tmp_path)
    assert_same_figures(rows, choropleth(client, users["province"], "kind=3000&window=1y"))
    assert out.getvalue().startswith(f"{len(rows)} features")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "params, field",
    [
        ("window=2y", "window"),
        ("accident_from=yesterday", "accident_from"),
        ("role=use", "role"),  # a filter of the units layer, not of the choropleth
        (f"region={XIXIA}", "region"),  # not the county user's
    ],
)
def test_bad_filters_for_regions_name_the_parameter(users, params, field):
    with pytest.raises(ExportError) as caught:
        parse_request(users["xingqing"], layer="regions", format="csv", filters=QueryDict(params))
    assert list(caught.value.errors) == [field]


def test_regions_are_not_rows_of_a_map_layer(users):
    with pytest.raises(ExportError, match="layer"):
        layer_rows(users["province"], "regions", None, Area(), timezone.localdate())


def test_a_county_user_cannot_export_another_countys_regions(tmp_path, users, registry):
    with pytest.raises(ExportError, match="region"):
        export_layer(users["xingqing"], "regions", None, Area(region=SHIZUISHAN_DAWUKOU), "csv",
                     "wgs84", tmp_path / "x.csv")  # fmt: skip
    assert count_rows(users["province"], "regions", None, Area(region=NINGXIA[:2])) == len(
        Region.objects.filter(level="city", code__startswith="64")
    )
