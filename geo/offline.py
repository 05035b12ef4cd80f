"""Folium maps that load nothing from the internet.

SEGIS runs on intranets without internet access, so a map page must never ask a
CDN for Leaflet or its plugins.  ``folium.Map`` links Leaflet, jQuery, Bootstrap,
Font Awesome and Leaflet.awesome-markers from CDNs through its ``default_js`` /
``default_css`` class attributes; :func:`offline_map` shadows them with
*instance* attributes that point at the copies under ``static/vendor/``
(see ``scripts/vendor-assets.sh`` and ``docs/frontend-assets.md``), so the
``folium.Map`` class and other maps are left untouched.

What is loaded:

* Leaflet (JS + CSS; the default marker icons are pointed at the vendored
  images explicitly, since hashed static names defeat Leaflet's auto-detection);
* jQuery, unless ``jquery=False``: folium's ``Popup`` (any ``popup=``) and
  ``Map.keep_in_front()`` call ``$``; without it the map script stops at the
  first popup.

Not loaded, so not usable on an offline map: ``folium.Icon`` (needs
awesome-markers, Bootstrap glyphicons / Font Awesome; use the default marker,
``folium.CustomIcon`` or ``folium.DivIcon``), and folium plugins other than the
two wrapped here (:func:`add_marker_cluster`, :func:`add_heatmap`).  A plugin that
still links a CDN is caught by :func:`render_map_html` / :func:`map_fragment`,
which raise :class:`ExternalAssetError`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.templatetags.static import static
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

from geo.models import Region
from geo.outlines import outlines

# folium pulls in pandas: it is imported where a map is made, not when Django starts.
if TYPE_CHECKING:
    import folium
    from folium.elements import JSCSSMixin
    from folium.plugins import HeatMap, MarkerCluster

__all__ = [
    "DEFAULT_MAX_ZOOM",
    "DEFAULT_ZOOM_START",
    "ExternalAssetError",
    "MapScript",
    "add_heatmap",
    "OUTLINE_TOLERANCE",
    "add_marker_cluster",
    "add_outline",
    "external_asset_urls",
    "map_text",
    "map_fragment",
    "offline_map",
    "printed_map",
    "render_map_html",
]

DEFAULT_ZOOM_START = 10
DEFAULT_MAX_ZOOM = 18

# (folium resource name, path under STATIC_URL).  The names are the ones folium
# itself uses, so a resource is linked once even if it is requested twice.
LEAFLET_JS = [("leaflet", "vendor/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "vendor/leaflet/leaflet.css")]
JQUERY_JS = [("jquery", "vendor/jquery/jquery.min.js")]
MARKER_CLUSTER_JS = [("markerclusterjs", "vendor/leaflet.markercluster/leaflet.markercluster.js")]
MARKER_CLUSTER_CSS = [
    ("markerclustercss", "vendor/leaflet.markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster/MarkerCluster.Default.css"),
]
# folium's patched Leaflet.heat build (what folium.plugins.HeatMap is written for:
# intensities are normalised to the largest cell, weights above 1 are not clamped).
HEATMAP_JS = [("leaflet-heat.js", "vendor/leaflet.heat/leaflet-heat-folium.js")]
MARKER_ICONS = {
    "iconUrl": "vendor/leaflet/images/marker-icon.png",
    "iconRetinaUrl": "vendor/leaflet/images/marker-icon-2x.png",
    "shadowUrl": "vendor/leaflet/images/marker-shadow.png",
}


class ExternalAssetError(ValueError):
    """A rendered map links a script or stylesheet on another host."""


def _static(resources: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, static(path)) for name, path in resources]


def _use_local_assets(
    element: JSCSSMixin,
    js: Iterable[tuple[str, str]],
    css: Iterable[tuple[str, str]] = (),
) -> None:
    # Instance attributes shadow the class lists; they are fresh lists, so
    # add_js_link()/add_css_link() on this element cannot mutate folium's globals.
    element.default_js = _static(js)
    element.default_css = _static(css)


@functools.cache
def _default_icon_paths() -> type:
    """The element pointing ``L.Icon.Default`` at the vendored marker images.

    Leaflet finds its images from leaflet.css's URL or a ``url(...marker-icon.png)``
    background; both fail once ManifestStaticFilesStorage hashes the file names,
    which would leave every default marker as a broken image.
    """
    from branca.element import MacroElement
    from folium.template import Template

    class DefaultIconPaths(MacroElement):
        _template = Template(
            """
            {% macro header(this, kwargs) %}
                <script>
                    L.Icon.Default.imagePath = "";
                    L.Icon.Default.mergeOptions({{ this.icons|tojson }});
                </script>
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "DefaultIconPaths"
            self.icons = {key: static(path) for key, path in MARKER_ICONS.items()}

    return DefaultIconPaths


# The attribution every SEGIS map carries, MapLibre's (static/js) and these alike.
ATTRIBUTION = gettext_lazy("行政区划：SEGIS")


@functools.cache
def _conventions() -> type:
    """The element giving a folium map the conventions of SEGIS's other maps: a metric scale bar
    only (folium's `control_scale` adds Leaflet's metric and imperial pair), and the project's
    attribution behind a plain Leaflet credit (Leaflet 1.9 prefixes a flag)."""
    from branca.element import MacroElement
    from folium.template import Template

    class MapConventions(MacroElement):
        _template = Template(
            """
            {% macro script(this, kwargs) %}
                {{ this._parent.get_name() }}.attributionControl.setPrefix('Leaflet');
                {{ this._parent.get_name() }}.attributionControl.addAttribution(
                    {{ this.attribution|tojson }});
                {% if this.scale %}
                L.control.scale({metric: true, imperial: false}).addTo(
                    {{ this._parent.get_name() }});
                {% endif %}
            {% endmacro %}
            """
        )

        def __init__(self, *, scale: bool) -> None:
            super().__init__()
            self._name = "MapConventions"
            self.scale = scale
            self.attribution = str(ATTRIBUTION)

    return MapConventions


def offline_map(
    *,
    location: Sequence[float] | None = None,
    zoom_start: int = DEFAULT_ZOOM_START,
    tiles: Any = None,
    min_zoom: int | None = None,
    max_zoom: int = DEFAULT_MAX_ZOOM,
    jquery: bool = True,
    **kwargs: Any,
) -> folium.Map:
    """A ``folium.Map`` whose scripts and stylesheets are all served from static/vendor.

    ``location`` is ``[lat, lon]``; without it folium centres on (0, 0) at zoom 1.
    ``tiles`` defaults to none at all.  An intranet tile server may be given as a
    ``folium.TileLayer`` or a URL template (``"/tiles/{z}/{x}/{y}.png"``, with
    ``attr=...``); folium's named providers ("OpenStreetMap", "CartoDB positron",
    ...) are internet services and are refused.  ``min_zoom``/``max_zoom`` bound
    the map itself (MarkerCluster needs a finite maxZoom even with no tile layer)
    and a tile layer created from ``tiles``.  ``jquery=False`` drops jQuery, for
    maps without popups or ``keep_in_front()``.  Other keyword arguments go to
    ``folium.Map`` (``width``, ``height``, ``attr``, ...); ``control_scale`` asks for the
    metric scale bar.
    """
    import folium

    if isinstance(tiles, str) and "{" not in tiles:
        raise ValueError(
            f"tiles={tiles!r} names a tile provider on the internet; pass None, a "
            "folium.TileLayer or a URL template of an intranet tile server"
        )
    scale = kwargs.pop("control_scale", False)
    m = folium.Map(
        location=location,
        zoom_start=zoom_start,
        tiles=tiles,
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        control_scale=False,  # ours, metric only (_conventions)
        **kwargs,
    )
    # folium only hands min_zoom/max_zoom to the tile layer it creates.
    m.options["max_zoom"] = max_zoom
    if min_zoom is not None:
        m.options["min_zoom"] = min_zoom
    _use_local_assets(m, LEAFLET_JS + (JQUERY_JS if jquery else []), LEAFLET_CSS)
    _default_icon_paths()().add_to(m)
    _conventions()(scale=scale).add_to(m)
    return m


def printed_map(
    *, location: Sequence[float], zoom_start: int, width: int, height: int
) -> folium.Map:
    """A fixed map for a printed sheet: no panning, zooming or controls (it prints as it shows,
    and a reader cannot move it off what it was made to show), with a scale bar."""
    return offline_map(
        location=location,
        zoom_start=zoom_start,
        jquery=False,
        width=width,
        height=height,
        control_scale=True,
        zoom_control=False,
        dragging=False,
        scrollWheelZoom=False,
        doubleClickZoom=False,
        boxZoom=False,
        keyboard=False,
        touchZoom=False,
        zoomSnap=0.25,
    )


# About 50 m: context on a map without a basemap, not survey data.
OUTLINE_TOLERANCE = 0.0005
OUTLINE_STYLE = {"color": "#44546a", "weight": 1.2, "fillColor": "#9fb3c8", "fillOpacity": 0.08}


def add_outline(
    m: folium.Map, geojson: str, *, name: str | None = None, **style: Any
) -> folium.GeoJson:
    """An area's outline for context (a county, a plan's area): the basemap an offline map lacks."""
    import folium

    layer = folium.GeoJson(
        json.loads(geojson),
        name=name,
        tooltip=name,
        style_function=lambda feature: {**OUTLINE_STYLE, **style},
    )
    return layer.add_to(m)


def add_marker_cluster(parent: folium.Map | folium.map.Layer, **kwargs: Any) -> MarkerCluster:
    """Add a ``folium.plugins.MarkerCluster`` using the vendored Leaflet.markercluster.

    ``kwargs`` go to ``MarkerCluster`` (``locations``, ``popups``, ``name``,
    ``disableClusteringAtZoom``...).  Add markers to the returned cluster.
    """
    from folium.plugins import MarkerCluster

    cluster = MarkerCluster(**kwargs)
    _use_local_assets(cluster, MARKER_CLUSTER_JS, MARKER_CLUSTER_CSS)
    cluster.add_to(parent)
    return cluster


def add_heatmap(
    parent: folium.Map | folium.map.Layer,
    points: Iterable[Sequence[float]],
    **kwargs: Any,
) -> HeatMap:
    """Add a ``folium.plugins.HeatMap`` of ``[lat, lon]`` or ``[lat, lon, weight]`` points.

    Uses folium's Leaflet.heat build from static/vendor; ``kwargs`` go to ``HeatMap``
    (``name``, ``radius``, ``blur``, ``min_opacity``, ``gradient``...).
    """
    from folium.plugins import HeatMap

    heat = HeatMap([list(p) for p in points], **kwargs)
    _use_local_assets(heat, HEATMAP_JS)
    heat.add_to(parent)
    return heat


# folium writes popups and tooltips into JavaScript template literals (`...`): there a backtick
# ends the string and ${...} runs code, inside the map's nonce'd script where the CSP cannot stop it.
_LITERAL_ENTITIES = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def map_text(value: object) -> SafeString:
    """Text for a folium popup or tooltip (a name from the registry): HTML-escaped, and with the
    characters a JavaScript template literal reads as code written as HTML entities, which the
    popup shows as the characters they stand for."""
    return mark_safe(str(escape(value)).translate(_LITERAL_ENTITIES))  # nosec B308 B703


_ASSET_RE = re.compile(
    r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:[a-z][a-z0-9+.\-]*:)?//[^"'\s>]+)""",
    re.IGNORECASE,
)


def external_asset_urls(html: str) -> list[str]:
    """The absolute (``scheme://`` or ``//host``) ``src``/``href`` of <script>/<link> tags."""
    return _ASSET_RE.findall(html)


def _check(header: str) -> None:
    if urls := external_asset_urls(header):
        raise ExternalAssetError(
            "map links assets outside static/vendor (use geo.offline helpers): " + ", ".join(urls)
        )


def render_map_html(m: folium.Map, *, check: bool = True) -> str:
    """The map as a complete HTML document (for an iframe or a standalone page).

    With ``check`` (default), raise :class:`ExternalAssetError` if any script or
    stylesheet would be fetched from another host.
    """
    root = m.get_root()
    html = root.render()
    if check:
        _check(root.header.render())
    return html


class MapScript(SafeString):
    """A map's ``<script>`` element; ``.js`` is its body alone, for a page whose
    Content-Security-Policy runs an inline script only with the request's nonce:
    ``<script nonce="{{ request.csp_nonce }}">{{ map.script.js }}</script>``."""

    js: SafeString


# folium writes inline scripts without attributes; linked ones carry src=.
_INLINE_SCRIPT_RE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def map_fragment(m: folium.Map, *, check: bool = True) -> dict[str, SafeString | str]:
    """The pieces needed to put the map in a Django template.

    Returns ``{"header": ..., "html": ..., "script": ..., "name": ...}``:
    ``header`` (``<script src>``/``<link>``/``<style>`` tags) goes in ``<head>``,
    ``html`` (the map ``<div>``) where the map should appear, ``script``
    (a :class:`MapScript`) after it, e.g. at the end of ``<body>``; the three are
    marked safe.  ``name`` is the JS variable holding the ``L.map``.

    The header's inline scripts (folium's ``L_NO_TOUCH`` flags, the default icon
    paths) open ``script`` instead, so one nonce covers all the map's code; they
    still run before any marker is made, and Leaflet reads the flags as unset,
    which is what folium sets them to.

    The map ``<div>`` is ``width: 100%; height: 100%`` by default, so give its
    container a height.  folium's header also carries page-wide styles
    (``html, body {height: 100%; margin: 0}``) and a viewport ``<meta>``.
    """
    root = m.get_root()
    root.render()  # fills root.header/html/script from the map and its children
    header = root.header.render()
    if check:
        _check(header)
    js = "\n".join([*_INLINE_SCRIPT_RE.findall(header), root.script.render()])
    script = MapScript(f"<script>\n{js}\n</script>")
    # folium's rendering of map objects we built; text from the registry in their popups and
    # tooltips is to go through map_text where it is put on the map.
    script.js = mark_safe(js)  # nosec B308 B703
    header = mark_safe(_INLINE_SCRIPT_RE.sub("", header))  # nosec B308 B703
    html = mark_safe(root.html.render())  # nosec B308 B703
    return {
        "header": header,
        "html": html,
        "script": script,
        "name": m.get_name(),
    }


def region_outline(region_code: str) -> tuple[str, str] | None:
    """A region's name and simplified boundary as GeoJSON text, for an offline map's context."""

    found = outlines(Region.objects.filter(code=region_code), OUTLINE_TOLERANCE)
    return (found[0][1], found[0][3]) if found else None
