"""geo.offline: folium maps whose assets all come from static/vendor (no database needed)."""

import re
import shutil
from pathlib import Path

import folium
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template import Context, Template
from django.test import override_settings
from django.utils.safestring import SafeString
from folium.plugins import MarkerCluster

from geo import offline as maps

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor"

# Any absolute URL in a script src or stylesheet href.
EXTERNAL_ASSET = re.compile(r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I)


def assert_offline(html):
    assert not EXTERNAL_ASSET.search(html), html
    assert maps.external_asset_urls(html) == []


def header_of(m):
    root = m.get_root()
    root.render()
    return root.header.render()


# --- vendored files -----------------------------------------------------------


def all_static_paths():
    paths = [
        path
        for group in (
            maps.LEAFLET_JS,
            maps.LEAFLET_CSS,
            maps.JQUERY_JS,
            maps.MARKER_CLUSTER_JS,
            maps.MARKER_CLUSTER_CSS,
            maps.HEATMAP_JS,
        )
        for _, path in group
    ]
    return paths + list(maps.MARKER_ICONS.values()) + ["vendor/ol/ol.js", "vendor/ol/ol.css"]


@pytest.mark.parametrize("path", all_static_paths())
def test_every_referenced_asset_is_vendored(path):
    assert finders.find(path), f"{path} missing: run scripts/vendor-assets.sh"


@pytest.mark.parametrize(
    "name", ["leaflet", "leaflet.markercluster", "leaflet.heat", "ol", "jquery"]
)
def test_vendor_dirs_have_version_and_license(name):
    assert (VENDOR / name / "VERSION").read_text().strip()
    assert (VENDOR / name / "LICENSE").stat().st_size > 0


def test_vendored_versions():
    version = {
        name: (VENDOR / name / "VERSION").read_text().splitlines()[0]
        for name in ("leaflet", "leaflet.markercluster", "leaflet.heat")
    }
    assert version["leaflet"].startswith("1.9.")
    assert version["leaflet.markercluster"].startswith("1.5.")
    assert version["leaflet.heat"].startswith("0.2.")


def test_openlayers_matches_djangos_gis_widget():
    import django

    widgets = Path(django.__file__).parent / "contrib" / "gis" / "forms" / "widgets.py"
    wanted = re.search(r"npm/ol@v?([\w.\-]+)/dist/ol\.js", widgets.read_text()).group(1)
    assert (VENDOR / "ol" / "VERSION").read_text().strip() == wanted


def test_no_source_maps_or_references_to_them():
    assert not list(VENDOR.rglob("*.map"))
    for f in VENDOR.rglob("*"):
        if f.suffix in {".js", ".css"}:
            assert "sourceMappingURL" not in f.read_text(encoding="utf-8"), f


def test_vendored_css_only_references_local_files():
    for css in VENDOR.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert not re.search(r"(url\(|@import)\s*['\"]?(https?:)?//", text), css
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if not ref.startswith(("data:", "#")):  # "#default#VML" is an old-IE behaviour
                assert (css.parent / ref).is_file(), f"{css}: {ref}"


# --- offline_map ----------------------------------------------------------------


def test_offline_map_has_no_internet_urls_at_all():
    m = maps.offline_map(location=[39.9042, 116.4074], zoom_start=11)
    html = maps.render_map_html(m)

    assert_offline(html)
    # tiles=None: no tile URL template, no attribution text, nothing else either.
    assert "http://" not in html
    assert "https://" not in html
    assert "L.tileLayer" not in html


def test_offline_map_links_only_vendored_leaflet_and_jquery():
    header = header_of(maps.offline_map())

    scripts = re.findall(r'<script src="([^"]+)"', header)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', header)
    assert scripts == ["/static/vendor/leaflet/leaflet.js", "/static/vendor/jquery/jquery.min.js"]
    assert styles == ["/static/vendor/leaflet/leaflet.css"]
    for unwanted in ("bootstrap", "awesome", "fontawesome", "glyphicons"):
        assert unwanted not in header


def test_jquery_can_be_left_out():
    header = header_of(maps.offline_map(jquery=False))
    assert "jquery" not in header
    assert "/static/vendor/leaflet/leaflet.js" in header


def test_folium_map_class_is_not_patched():
    cdn_js, cdn_css = list(folium.Map.default_js), list(folium.Map.default_css)

    m = maps.offline_map()
    m.add_js_link("extra", "/static/extra.js")  # mutates the instance list only
    maps.render_map_html(m)

    assert folium.Map.default_js == cdn_js
    assert folium.Map.default_css == cdn_css
    assert "default_js" in vars(m)  # an instance attribute shadows the class list
    assert "default_js" not in vars(folium.Map())
    plain = folium.Map(tiles=None).get_root().render()
    assert "cdn.jsdelivr.net/npm/leaflet" in plain


def test_zoom_limits_are_set_on_the_map_itself():
    m = maps.offline_map(location=[31.23, 121.47], min_zoom=4)
    assert m.options["max_zoom"] == maps.DEFAULT_MAX_ZOOM == 18
    script = maps.map_fragment(m)["script"]
    assert '"maxZoom": 18' in script
    assert '"minZoom": 4' in script
    assert '"zoom": 10' in script

    assert '"maxZoom": 16' in maps.map_fragment(maps.offline_map(max_zoom=16))["script"]


def test_named_tile_providers_are_refused():
    with pytest.raises(ValueError, match="internet"):
        maps.offline_map(tiles="OpenStreetMap")
    with pytest.raises(ValueError, match="internet"):
        maps.offline_map(tiles="cartodbpositron")


def test_intranet_tile_server():
    m = maps.offline_map(tiles="/tiles/{z}/{x}/{y}.png", attr="SEGIS 内网底图", max_zoom=17)
    html = maps.render_map_html(m)
    assert_offline(html)
    assert "L.tileLayer" in html
    assert '"/tiles/{z}/{x}/{y}.png"' in html
    tile_layers = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert len(tile_layers) == 1
    assert tile_layers[0].options["max_zoom"] == 17


def test_default_marker_icons_point_at_vendored_images():
    m = maps.offline_map(location=[30.0, 120.0])
    folium.Marker([30.0, 120.0], tooltip="锅炉 #1", popup="<b>压力容器</b>").add_to(m)
    html = maps.render_map_html(m)

    assert_offline(html)
    assert '"iconUrl": "/static/vendor/leaflet/images/marker-icon.png"' in html
    assert '"iconRetinaUrl": "/static/vendor/leaflet/images/marker-icon-2x.png"' in html
    assert '"shadowUrl": "/static/vendor/leaflet/images/marker-shadow.png"' in html
    assert 'L.Icon.Default.imagePath = ""' in html
    # The icon set-up runs in <head>, after leaflet.js and before any marker.
    head = html.split("</head>")[0]
    assert head.index("vendor/leaflet/leaflet.js") < head.index("L.Icon.Default.mergeOptions")
    # folium's popup uses jQuery's $, which is loaded.
    assert "$(`" in html
    assert "/static/vendor/jquery/jquery.min.js" in head


def test_static_urls_follow_settings():
    with override_settings(STATIC_URL="/assets/"):
        html = maps.render_map_html(maps.offline_map())
    assert '<script src="/assets/vendor/leaflet/leaflet.js"></script>' in html
    assert "/assets/vendor/leaflet/images/marker-icon.png" in html


def test_hashed_static_files(tmp_path):
    """Production uses a manifest storage: hashed names, and post-processing must succeed."""
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=tmp_path):
        shutil.copytree(VENDOR, tmp_path / "vendor")
        paths = {
            str(f.relative_to(tmp_path)): (staticfiles_storage, str(f.relative_to(tmp_path)))
            for f in (tmp_path / "vendor").rglob("*")
            if f.is_file()
        }
        results = list(staticfiles_storage.post_process(paths))
        errors = [
            (name, processed) for name, _, processed in results if isinstance(processed, Exception)
        ]
        assert errors == []

        m = maps.offline_map()
        folium.Marker([30.0, 120.0]).add_to(m)
        add = maps.add_marker_cluster(m)
        folium.Marker([30.1, 120.1]).add_to(add)
        maps.add_heatmap(m, [[30.0, 120.0]])
        html = maps.render_map_html(m)
        hashed_css = tmp_path / staticfiles_storage.stored_name("vendor/leaflet/leaflet.css")

    assert_offline(html)
    assert re.search(r'src="/static/vendor/leaflet/leaflet\.[0-9a-f]{12}\.js"', html)
    assert re.search(r'href="/static/vendor/leaflet/leaflet\.[0-9a-f]{12}\.css"', html)
    assert re.search(
        r'"iconUrl": "/static/vendor/leaflet/images/marker-icon\.[0-9a-f]{12}\.png"', html
    )
    assert re.search(r"leaflet\.markercluster\.[0-9a-f]{12}\.js", html)
    assert re.search(r"leaflet-heat-folium\.[0-9a-f]{12}\.js", html)
    assert re.search(
        r"""url\(["']?images/layers\.[0-9a-f]{12}\.png["']?\)""", hashed_css.read_text()
    )


# --- plugins --------------------------------------------------------------------


def test_marker_cluster_uses_vendored_plugin():
    m = maps.offline_map(location=[30.27, 120.15])
    cluster = maps.add_marker_cluster(m, name="电梯")
    for i in range(3):
        folium.Marker([30.27 + i / 100, 120.15]).add_to(cluster)
    html = maps.render_map_html(m)

    assert isinstance(cluster, MarkerCluster)
    assert_offline(html)
    head = html.split("</head>")[0]
    assert '<script src="/static/vendor/leaflet.markercluster/leaflet.markercluster.js">' in head
    assert 'href="/static/vendor/leaflet.markercluster/MarkerCluster.css"' in head
    assert 'href="/static/vendor/leaflet.markercluster/MarkerCluster.Default.css"' in head
    assert head.index("vendor/leaflet/leaflet.js") < head.index("leaflet.markercluster.js")
    assert "L.markerClusterGroup" in html
    # MarkerCluster.default_js on the class is untouched.
    assert "cdnjs.cloudflare.com" in MarkerCluster.default_js[0][1]


def test_marker_cluster_accepts_locations_and_a_feature_group():
    m = maps.offline_map()
    group = folium.FeatureGroup(name="起重机械").add_to(m)
    maps.add_marker_cluster(group, locations=[[30.0, 120.0], [31.0, 121.0]])
    html = maps.render_map_html(m)
    assert_offline(html)
    assert html.count("L.marker(") == 2


def test_heatmap_uses_vendored_plugin():
    m = maps.offline_map(location=[23.13, 113.26])
    heat = maps.add_heatmap(m, [(23.13, 113.26, 5), (23.14, 113.27, 1.5)], name="隐患", radius=20)
    html = maps.render_map_html(m)

    assert_offline(html)
    assert '<script src="/static/vendor/leaflet.heat/leaflet-heat-folium.js"></script>' in html
    assert "L.heatLayer" in html
    assert heat.data == [[23.13, 113.26, 5], [23.14, 113.27, 1.5]]
    assert '"radius": 20' in html


def test_cdn_plugins_are_caught():
    m = maps.offline_map()
    MarkerCluster().add_to(m)  # plain folium plugin: links cdnjs
    with pytest.raises(maps.ExternalAssetError, match="cdnjs.cloudflare.com"):
        maps.render_map_html(m)
    with pytest.raises(maps.ExternalAssetError):
        maps.map_fragment(m)
    assert "cdnjs.cloudflare.com" in maps.render_map_html(m, check=False)


def test_external_asset_urls():
    html = (
        '<script src="https://a.example/x.js"></script>'
        "<link rel='stylesheet' href='//b.example/y.css'/>"
        '<script src="/static/vendor/leaflet/leaflet.js"></script>'
        '<link rel="stylesheet" href="static/local.css"/>'
        '<a href="https://not-an-asset.example/">x</a>'
    )
    assert maps.external_asset_urls(html) == ["https://a.example/x.js", "//b.example/y.css"]


# --- embedding ------------------------------------------------------------------


def test_map_fragment_pieces():
    m = maps.offline_map(location=[36.65, 117.12])
    folium.Marker([36.65, 117.12], popup="气瓶充装站").add_to(m)
    parts = maps.map_fragment(m)

    assert set(parts) == {"header", "html", "script", "name"}
    for key in ("header", "html", "script"):
        assert isinstance(parts[key], SafeString)
        assert_offline(parts[key])
        assert "<html" not in parts[key] and "<body" not in parts[key]

    assert '<script src="/static/vendor/leaflet/leaflet.js"></script>' in parts["header"]
    assert f'id="{parts["name"]}"' in parts["html"]
    assert "L.map(" not in parts["html"]
    assert parts["script"].startswith("<script>") and parts["script"].endswith("</script>")
    assert f"var {parts['name']} = L.map(" in parts["script"]
    assert "L.marker(" in parts["script"]

    # Same content as the full document.
    full = maps.render_map_html(m)
    assert parts["html"].strip() in full


def test_map_fragment_in_a_django_template():
    m = maps.offline_map(location=[36.65, 117.12], height="480px")
    template = Template(
        "<html><head>{{ map.header }}</head>"
        '<body><div class="map-box">{{ map.html }}</div>{{ map.script }}</body></html>'
    )
    page = template.render(Context({"map": maps.map_fragment(m)}))

    assert "&lt;" not in page  # not autoescaped
    assert_offline(page)
    assert page.index("leaflet.js") < page.index("L.map(")
    assert "height: 480.0px" in page
