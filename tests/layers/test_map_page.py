"""The supervisor's map page (/map/) and its offline base map: access, scoping, nothing from the internet."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from accounts.models import User
from geo.models import Region
from tests.conftest import XINGQING, XIXIA, YINCHUAN

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
    assert all(asset.startswith("/static/") for asset in assets), assets


def test_only_url_on_the_page_is_an_online_basemap_template_in_the_config(client, users):
    page = page_of(client, users["xingqing"])
    urls = URL.findall(page)
    assert urls and all(url.startswith(ONLINE_TEMPLATES[0]) for url in urls), urls
    # Outside the configuration (read by the script only when the user picks that basemap): none.
    assert URL.findall(CONFIG_SCRIPT.sub("", page)) == []
    basemaps = {b["id"]: b for b in config_of(page)["basemaps"]}
    assert set(basemaps) == {"osm"}
    assert "需联网" in basemaps["osm"]["title"] and "internet" in basemaps["osm"]["title"]


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
    assert f'<a href="{reverse("map")}">地图 / Map</a>' in page


def test_map_page_query_count_is_small(client, users, django_assert_max_num_queries):
    client.force_login(users["province"])
    with django_assert_max_num_queries(10):
        assert client.get(reverse("map")).status_code == 200
