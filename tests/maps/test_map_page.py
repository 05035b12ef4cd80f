"""The supervisor's map page (/map/), its offline base map and its region choropleth: access,
scoping, figures counted independently, bad input, nothing from the internet."""

import datetime as dt
import json
import math
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.gis.geos import LineString, MultiLineString
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from geo.models import Region
from layers import catalogue
from maps import choropleth
from registry import catalogue as codes
from registry.models import Accident, Equipment, Unit
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN, inside

pytestmark = pytest.mark.django_db

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\]+""")
ONLINE_TEMPLATES = ("https://tile.openstreetmap.org/", "https://t0.tianditu.gov.cn/")
CONFIG_SCRIPT = re.compile(
    r'<script id="segis-map-config" type="application/json">.*?</script>', re.S
)
STATIC = Path(settings.BASE_DIR) / "static"


def page_of(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("map"))
    assert response.status_code == 200
    return response.content.decode()


def config_of(page: str) -> dict:
    body = CONFIG_SCRIPT.search(page).group(0)
    return json.loads(body[body.index(">") + 1 : body.rindex("<")])


def basemap_codes(client, user) -> set[str]:
    client.force_login(user)
    response = client.get(reverse("map-basemap"))
    assert response.status_code == 200
    return {feature["properties"]["code"] for feature in response.json()["features"]}


@pytest.mark.parametrize("name", ["map", "map-basemap"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["map", "map-basemap"])
def test_user_without_jurisdiction_is_refused(client, name):
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests"))
    assert client.get(reverse(name)).status_code == 403


def test_county_basemap_holds_only_its_county(client, users):
    assert basemap_codes(client, users["xingqing"]) == {XINGQING}


def test_city_basemap_holds_the_city_and_its_counties(client, users):
    expected = set(
        Region.objects.filter(code__startswith=YINCHUAN[:4]).values_list("code", flat=True)
    )
    assert XIXIA in expected and len(expected) > 2
    assert basemap_codes(client, users["city"]) == expected


def test_basemap_features_carry_what_the_page_draws(client, users):
    client.force_login(users["city"])
    response = client.get(reverse("map-basemap"))
    assert response["Content-Type"] == "application/geo+json"
    assert "private" in response["Cache-Control"]
    assert "max-age" in response["Cache-Control"]
    features = response.json()["features"]
    outer = [f["properties"]["code"] for f in features if f["properties"]["outer"]]
    assert outer == [YINCHUAN]
    for feature in features:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert set(feature["properties"]) == {"code", "name", "level", "outer", "label_point"}


def test_county_page_lists_only_its_own_region(client, users):
    page = page_of(client, users["xingqing"])
    config = config_of(page)
    assert [region["prefix"] for region in config["regions"]] == [XINGQING]
    assert "西夏区" not in page
    lon_min, lat_min, lon_max, lat_max = config["bounds"]
    centre = Region.objects.get(code=XINGQING).boundary.point_on_surface
    assert lon_min < centre.x < lon_max and lat_min < centre.y < lat_max


def test_city_page_offers_its_counties_as_region_filters(client, users):
    config = config_of(page_of(client, users["city"]))
    prefixes = [region["prefix"] for region in config["regions"]]
    assert prefixes[0] == YINCHUAN[:4]
    assert {XINGQING, XIXIA} <= set(prefixes)


def test_page_loads_only_local_assets(client, users):
    page = page_of(client, users["xingqing"])
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert "/static/vendor/maplibre-gl/maplibre-gl.js" in assets
    assert "/static/vendor/maplibre-gl/maplibre-gl.css" in assets
    assert "/static/js/segis-map.js" in assets
    # Our static files, and the page scripts' translations served by this site (docs/i18n.md).
    assert all(asset.startswith("/static/") or asset == "/jsi18n/" for asset in assets), assets


def test_only_url_on_the_page_is_an_online_basemap_template_in_the_config(client, users):
    page = page_of(client, users["xingqing"])
    urls = URL.findall(page)
    assert urls and all(url.startswith(ONLINE_TEMPLATES[0]) for url in urls), urls
    # Outside the configuration (read by the script only when the user picks that basemap): none.
    assert URL.findall(CONFIG_SCRIPT.sub("", page)) == []
    basemaps = {b["id"]: b for b in config_of(page)["basemaps"]}
    assert set(basemaps) == {"osm"}
    assert "需联网" in basemaps["osm"]["title"]


@override_settings(TIANDITU_KEY="test-tk-1234")
def test_tianditu_is_offered_with_a_configured_key(client, users):
    page = page_of(client, users["xingqing"])
    assert all(
        url.startswith(ONLINE_TEMPLATES) or ".tianditu.gov.cn/" in url for url in URL.findall(page)
    )
    tianditu = {b["id"]: b for b in config_of(page)["basemaps"]}["tianditu"]
    assert len(tianditu["tiles"]) == 8
    assert all("tk=test-tk-1234" in url and "/vec_w/" in url for url in tianditu["tiles"])
    assert all("/cva_w/" in url for url in tianditu["overlay_tiles"])
    for template in tianditu["tiles"]:
        assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in template


def test_page_script_and_style_name_no_other_host():
    for path in ("js/segis-map.js", "css/map.css"):
        assert URL.findall((STATIC / path).read_text(encoding="utf-8")) == [], path


def test_vendored_maplibre_is_the_umd_build_of_5():
    vendor = STATIC / "vendor" / "maplibre-gl"
    assert (vendor / "VERSION").read_text().strip().startswith("5.")
    assert (vendor / "LICENSE").stat().st_size > 0
    script = (vendor / "maplibre-gl.js").read_text(encoding="utf-8")
    assert "maplibregl" in script[:2000]  # the UMD wrapper names the global
    assert not re.search(r"^\s*(import|export)\s", script, re.M)


def test_the_map_filter_panel_lists_the_catalogue(client, users):
    page = page_of(client, users["xingqing"])
    config = config_of(page)
    kinds = {kind["code"] for kind in config["kinds"]}
    assert {"1000", "2000", "3000", "4000", "5000", "6000", "8000", "9000"} <= kinds
    assert "7000" not in kinds  # product category: never use-registered, never on the map
    varieties = {variety["code"]: variety for variety in config["varieties"]}
    assert {"3110", "4310", "3100", "1100"} <= set(varieties)  # a class stands for its varieties
    assert not {"3000", "7100"} & set(varieties)  # kinds are the kind filter; 7000 is no device
    assert varieties["3100"]["kind"] == "3000" and varieties["3100"]["level"] == "class"
    assert 'value="3110"' in page and 'value="3100"' in page


def test_the_header_links_to_the_map(client, users):
    page = page_of(client, users["xingqing"])  # base.html's header, as on every page
    assert f'<a href="{reverse("map")}">地图</a>' in page


def test_map_page_query_count_is_small(client, users, django_assert_max_num_queries):
    client.force_login(users["province"])
    with django_assert_max_num_queries(10):
        assert client.get(reverse("map")).status_code == 200


# --------------------------------------------------------------------------- region choropleth


REGIONS = reverse("map-regions")
TODAY = timezone.localdate()  # the endpoint's "today"


@pytest.fixture
def place(make_unit):
    """Equipment straight through the ORM: any status, due date, point or none, in any region."""
    units: dict[str, Unit] = {}
    serial = iter(range(1, 100_000))

    def place(code: str, variety: str = "3110", *, located: bool = True, **fields) -> Equipment:
        if code not in units:
            units[code] = make_unit(code)
        fields.setdefault("status", "in_use")
        fields.setdefault("next_inspection_due", TODAY + dt.timedelta(days=100))
        fields.setdefault("commissioned_on", dt.date(2020, 6, 1))
        kind = codes.kind_of(variety)
        if kind == "8000" and located:
            centre = inside(code)
            fields["route"] = MultiLineString(
                LineString((centre.x, centre.y), (centre.x + 0.001, centre.y), srid=4326)
            )
        return Equipment.objects.create(
            device_code=f"{variety}T5432{2021}{next(serial):05d}",
            variety_id=variety,
            kind=kind,
            location=inside(code) if located and kind != "8000" else None,
            region_id=code,
            use_unit=units[code],
            **fields,
        )

    return place


def accident(code: str, *, days_ago: float = 10, located: bool = True, **fields) -> Accident:
    return Accident.objects.create(
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        location=inside(code) if located else None,
        region_id=code,
        kind="困人",
        **fields,
    )


@pytest.fixture
def registry(place):
    """Devices of every status, due and overdue, with and without a location, pipelines, in three
    counties of two cities; accidents of several ages."""
    past, future = TODAY - dt.timedelta(days=40), TODAY + dt.timedelta(days=40)
    for code, n in ((XINGQING, 7), (XIXIA, 4), (SHIZUISHAN_DAWUKOU, 3)):
        for k in range(n):
            place(code, "3110" if k % 2 else "4310", next_inspection_due=past if k % 3 else future)
        place(code, next_inspection_due=None)  # a failed inspection: overdue
        place(code, status="suspended", next_inspection_due=past)  # not in use: not overdue
        place(code, located=False, next_inspection_due=past)  # not on the map
        place(code, "8210")  # a pipeline: a route, no point
    lift = Equipment.objects.filter(region_id=XINGQING, kind="3000").first()
    accident(XINGQING, days_ago=3, equipment=lift)
    accident(XINGQING, days_ago=200)
    accident(XINGQING, days_ago=5, located=False)
    accident(XIXIA, days_ago=12)


def regions_of(client, user, **params) -> dict:
    client.force_login(user)
    response = client.get(REGIONS, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    return response.json()


def figures(body: dict) -> dict[str, dict]:
    return {f["properties"]["code"]: f["properties"] for f in body["features"]}


def expected(prefix: str, *, status=None, kind=None, since_days=None) -> dict[str, int]:
    """The figures counted row by row in Python: no queryset filter of the code under test."""
    devices = in_use = overdue = 0
    for e in Equipment.objects.filter(region__code__startswith=prefix):
        if (e.location is None and e.route is None) or (status and e.status not in status):
            continue
        if kind and e.kind not in kind:
            continue
        devices += 1
        if e.status == "in_use":
            in_use += 1
            overdue += e.next_inspection_due is None or e.next_inspection_due < TODAY
    accidents = 0
    for a in Accident.objects.filter(region__code__startswith=prefix).select_related("equipment"):
        if a.location is None or (kind and (a.equipment is None or a.equipment.kind not in kind)):
            continue
        if since_days is None or a.occurred_at >= timezone.now() - dt.timedelta(days=since_days):
            accidents += 1
    return {"devices": devices, "in_use": in_use, "overdue": overdue, "accidents": accidents}


def test_regions_endpoint_refuses_anonymous_with_json(client):
    response = client.get(REGIONS)
    assert response.status_code == 403
    assert "user" in response.json()["errors"]


def test_regions_endpoint_refuses_a_user_without_jurisdiction(client, db):
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests"))
    assert client.get(REGIONS).status_code == 403


def test_city_gets_its_counties_with_figures_counted_row_by_row(client, users, registry):
    body = regions_of(client, users["city"])
    counties = set(Region.objects.counties().within_prefix("6401").values_list("code", flat=True))
    found = figures(body)
    assert set(found) == counties  # every county, the empty ones too
    for code, p in found.items():
        want = expected(code)
        assert {k: p[k] for k in want} == want, code
        assert p["level"] == "county" and p["prefix"] == code
        assert p["overdue_rate"] == (
            pytest.approx(want["overdue"] / want["in_use"]) if want["in_use"] else None
        )
        per_10k = want["accidents"] * 10_000 / want["devices"] if want["devices"] else None
        assert p["accident_rate"] == (pytest.approx(per_10k) if per_10k is not None else None)
    assert found[XINGQING]["overdue"] > 0 and found[XINGQING]["accidents"] == 2
    assert body["area"] == "6401" and body["level"] == "county"
    assert body["totals"]["devices"] == expected("6401")["devices"]
    assert body["unplaced"] == {"devices": 0, "accidents": 0}


def test_province_gets_its_cities(client, users, registry):
    found = figures(regions_of(client, users["province"]))
    assert set(found) == set(
        Region.objects.filter(level="city", code__startswith="64").values_list("code", flat=True)
    )
    assert found[YINCHUAN]["devices"] == expected("6401")["devices"]
    assert found["640200"]["devices"] == expected("6402")["devices"] > 0
    assert found[YINCHUAN]["prefix"] == "6401"


@pytest.mark.parametrize(
    "params, filters",
    [
        ({}, {}),
        ({"kind": "3000"}, {"kind": {"3000"}}),
        ({"kind": "3000,4000"}, {"kind": {"3000", "4000"}}),
        ({"status": "suspended"}, {"status": {"suspended"}}),
        ({"variety": "4300"}, {"kind": {"4000"}}),  # a class: its varieties, all 4310 here
        ({"region": XINGQING}, {}),
        ({"region": "6402"}, {}),
    ],
)
def test_device_total_equals_the_tile_count_endpoint(client, users, registry, params, filters):
    body = regions_of(client, users["province"], **params)
    count = client.get(reverse("tiles:count", kwargs={"layer": "equipment"}), params)
    assert count.status_code == 200
    assert body["totals"]["devices"] == count.json()["count"]
    assert sum(p["devices"] for p in figures(body).values()) == count.json()["count"]
    prefix = params.get("region", "64")
    assert body["totals"]["devices"] == expected(prefix, **filters)["devices"]


def test_accident_window_and_dates(client, users, registry):
    def accidents(**params) -> int:
        return figures(regions_of(client, users["city"], **params))[XINGQING]["accidents"]

    assert accidents() == 2  # every time; the one without a location is not on the map
    assert accidents(window="30d") == expected(XINGQING, since_days=30)["accidents"] == 1
    assert accidents(window="1y") == 2
    since = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    assert accidents(accident_from=since) == 1
    assert accidents(accident_to=since) == 1
    assert accidents(kind="4000") == 0  # the one accident with a device is at an elevator
    assert accidents(kind="3000") == 1
    body = regions_of(client, users["city"], window="24h")
    assert body["accident_window"] == "近24小时"


@pytest.mark.parametrize(
    "user, region, codes",
    [
        ("city", XINGQING, {XINGQING}),  # a county: itself
        ("province", "6401", "counties of 6401"),
        ("province", "64", "cities"),
        ("city", "64", "counties of 6401"),  # wider than the jurisdiction: the jurisdiction
        ("xingqing", XIXIA, set()),  # outside the jurisdiction: nothing
        ("city", "6402", set()),
    ],
)
def test_the_region_filter_narrows_to_that_regions_children(
    client, users, registry, user, region, codes
):
    if codes == "counties of 6401":
        codes = set(Region.objects.counties().within_prefix("6401").values_list("code", flat=True))
    elif codes == "cities":
        codes = set(
            Region.objects.filter(level="city", code__startswith="64").values_list(
                "code", flat=True
            )
        )
    body = regions_of(client, users[user], region=region)
    assert set(figures(body)) == codes
    if not codes:
        assert body["totals"]["devices"] == 0


def test_county_never_sees_another_countys_polygon_or_figures(client, users, registry):
    client.force_login(users["xingqing"])
    for params in ({}, {"region": "64"}, {"region": "6401"}, {"region": XIXIA}):
        response = client.get(REGIONS, params)
        text = response.content.decode()
        assert response.status_code == 200
        assert "西夏区" not in text and XIXIA not in text.replace(f'"region": "{XIXIA}"', "")
        assert set(figures(response.json())) <= {XINGQING}
    assert (
        figures(regions_of(client, users["xingqing"]))[XINGQING]["devices"]
        == expected(XINGQING)["devices"]
    )


def test_a_county_without_a_city_stands_for_itself(client, users, place):
    """Directly administered counties (4290xx in Hubei) have no city: drawn as counties."""
    shape = Region.objects.get(code=SHIZUISHAN_DAWUKOU).boundary
    Region.objects.create(
        code="649001", name="直管县", level="county", parent_id=NINGXIA, boundary=shape
    )
    Equipment.objects.filter(pk=place(SHIZUISHAN_DAWUKOU).pk).update(region_id="649001")
    place(XINGQING)
    found = figures(regions_of(client, users["province"]))
    assert found["649001"]["devices"] == 1 and found["649001"]["level"] == "county"
    assert found[YINCHUAN]["devices"] == 1


def test_every_fill_colour_is_in_its_legend(client, users, registry):
    body = regions_of(client, users["city"])
    legends = {m["name"]: m for m in body["metrics"]}
    assert set(legends) == {"devices", "overdue_rate", "accident_rate", "cylinder_overdue_rate"}
    for name, metric in legends.items():
        assert metric["title"] and metric["note"]
        colours = {item["colour"] for item in metric["legend"]}
        for p in figures(body).values():
            assert p[f"fill_{name}"] in colours, (name, p)
    # Empty counties: no device is a figure of its own, not the lowest class.
    empty = [p for p in figures(body).values() if p["devices"] == 0]
    assert empty and all(p["overdue_rate"] is None for p in empty)
    assert {i["label"] for i in legends["overdue_rate"]["legend"]} >= {"< 1 %", "≥ 5 %"}


def test_boundaries_are_simplified_polygons(client, users, registry):
    body = regions_of(client, users["province"])
    for feature in body["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = feature["properties"]["label_point"]
        assert 104 < lon < 108 and 35 < lat < 40
    stored = sum(
        r.boundary.num_coords for r in Region.objects.filter(level="city", code__startswith="64")
    )
    drawn = sum(len(json.dumps(f["geometry"])) for f in body["features"]) / 20  # ~20 bytes a vertex
    assert drawn < stored


@pytest.mark.parametrize(
    "params, param",
    [
        ({"kind": "99"}, "kind"),
        ({"kind": "3000,,4000"}, "kind"),
        ({"variety": "9999"}, "variety"),
        ({"status": "broken"}, "status"),
        ({"region": "6"}, "region"),
        ({"region": "64ab"}, "region"),
        ({"from": "2024-13-01"}, "from"),
        ({"from": "2024-02-01", "to": "2024-01-01"}, "to"),
        ({"window": "2w"}, "window"),
        ({"window": "24h", "accident_from": "2024-01-01"}, "window"),
        ({"accident_from": "yesterday"}, "accident_from"),
        ({"accident_from": "2024-02-01", "accident_to": "2024-01-01"}, "accident_to"),
        ({"bbox": "0,0,1,1"}, "bbox"),
        ({"metric": "devices"}, "metric"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, users, params, param):
    client.force_login(users["city"])
    response = client.get(REGIONS, params)
    assert response.status_code == 400, response.content
    assert param in response.json()["errors"], response.json()


def test_a_repeated_parameter_is_400(client, users):
    client.force_login(users["city"])
    response = client.get(f"{REGIONS}?kind=3000&kind=4000")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


@pytest.mark.parametrize("user", ["xingqing", "city", "province", "national"])
def test_regions_query_count_is_bounded(
    client, users, registry, django_assert_max_num_queries, user
):
    client.force_login(users[user])
    client.get(REGIONS)  # warm the catalogue
    # session, user, agency; equipment and accidents grouped; extent; regions
    with django_assert_max_num_queries(8):
        assert client.get(REGIONS, {"kind": "3000", "window": "30d"}).status_code == 200


def test_regions_response_is_private(client, users, registry):
    client.force_login(users["city"])
    response = client.get(REGIONS)
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_page_config_names_the_regions_endpoint_and_metrics(client, users):
    config = config_of(page_of(client, users["city"]))
    assert config["urls"]["regions"] == REGIONS
    assert [m["name"] for m in config["choropleth_metrics"]] == [
        "devices",
        "overdue_rate",
        "accident_rate",
        "cylinder_overdue_rate",
    ]


@pytest.mark.parametrize(
    "values, breaks",
    [
        ([0.0177, 0.005], [0.005, 0.01, 0.015]),  # steps of 0.5 %: four classes from zero
        ([51.15], [20, 40]),
        ([2.0, 0.3], [0.5, 1.0, 1.5, 2.0]),  # the top value opens the top class
        ([], []),
    ],
)
def test_equal_breaks_are_round_steps_from_zero(values, breaks):
    assert choropleth.equal_breaks(values) == pytest.approx(breaks)


def test_quantile_breaks_give_each_value_of_five_its_own_class():
    values = [3701, 4995, 5306, 6736, 9262]
    classes = choropleth.Classes.of("devices", values)
    assert classes.breaks == [4000, 5000, 6000, 9000]  # rounded down, still between neighbours
    ramp = catalogue.CHOROPLETH_METRICS["devices"]["ramp"]
    assert [classes.colour(v) for v in values] == list(ramp)


def test_overdue_rate_classes_are_fixed_and_zero_and_none_stand_apart():
    classes = choropleth.Classes.of("overdue_rate", [0.015, 0.0, None])
    ramp = catalogue.CHOROPLETH_METRICS["overdue_rate"]["ramp"]
    assert [classes.colour(v) for v in (0.005, 0.015, 0.025, 0.04, 0.2)] == list(ramp)
    assert classes.colour(0.0) == catalogue.CHOROPLETH_ZERO
    assert classes.colour(None) == catalogue.CHOROPLETH_NO_FIGURE
    labels = [item["label"] for item in classes.legend([0.015, 0.0, None])]
    assert labels == [
        "< 1 %",
        "1 % – 2 %",
        "2 % – 3 %",
        "3 % – 5 %",
        "≥ 5 %",
        "0",
        "无在用设备",
    ]


def test_resource_colours_are_far_apart():
    """No two emergency-resource colours closer than a clear step (CIE76 ΔE in Lab)."""

    def lab(colour: str) -> tuple[float, float, float]:
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb]
        x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
        y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
        f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
        return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])

    colours = list(catalogue.RESOURCE_COLOURS.values())
    assert len(set(colours)) == len(colours)
    for i, a in enumerate(colours):
        for b in colours[i + 1 :]:
            assert math.dist(lab(a), lab(b)) > 25, (a, b)
