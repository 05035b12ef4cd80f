"""Pages of the map: the home dashboard of the user's jurisdiction, and the supervisor's map page
(vector-tile layers of the jurisdiction over our own region outlines) with its basemap and regions."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, get_script_prefix, resolve, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_safe

from accounts import map_pass
from accounts.models import User
from common.http import NOT_AUTHENTICATED, json_errors, jurisdiction_refusal, no_jurisdiction
from common.ranges import ranged_file_response
from geo.basemap import BASEMAP_MAX_AGE_S, basemap_geojson, jurisdiction_extent
from geo.offline import map_fragment
from layers import catalogue
from layers.filters import FilterError
from maps import choropleth, lists
from maps.api import private
from maps.dashboard import OVERDUE_CLASSES, dashboard_map
from maps.summary import jurisdiction_summary
from registry.models import EquipmentStatus, UnitRole
from registry.models.events import ResourceType, Severity

# The tile server's layers (maps/tiles.py), bottom to top, and which are on when the page opens.
LAYERS = [
    {"name": "equipment", "title": pgettext_lazy("map layer", "设备"), "on": True},
    {"name": "overdue", "title": pgettext_lazy("map layer", "逾期未检"), "on": True},
    {"name": "units", "title": pgettext_lazy("map layer", "单位"), "on": False},
    {"name": "accidents", "title": pgettext_lazy("map layer", "事故"), "on": False},
    {"name": "resources", "title": pgettext_lazy("map layer", "应急资源"), "on": False},
    {"name": "stations", "title": pgettext_lazy("map layer", "气瓶充装站"), "on": False},
    {"name": "licences", "title": pgettext_lazy("map layer", "行政许可"), "on": False},
    {
        "name": "unlicensed",
        "title": pgettext_lazy("map layer", "无证生产安装"),
        "on": False,
    },
    {"name": "unlicensed_filling", "title": pgettext_lazy("map layer", "无证充装"), "on": False},
]
CATALOGUE_PATH = "/tiles/layers.json"

# Online basemaps, offered beside the offline one. Their URL templates are only requested when
# the user picks them; the page itself loads nothing from another host.
OSM = {
    "id": "osm",
    "title": gettext_lazy("OpenStreetMap（需联网）"),
    "tiles": ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"],
    "attribution": "© OpenStreetMap contributors",
    "max_zoom": 19,
}
# Tianditu's Web Mercator (`_w`) vector map and its Chinese annotation layer, on servers t0–t7.
TIANDITU_TEMPLATE = (
    "https://t{server}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)


def _tianditu(key: str) -> dict:
    def tiles(layer: str) -> list[str]:
        return [TIANDITU_TEMPLATE.format(server=n, layer=layer, key=key) for n in range(8)]

    return {
        "id": "tianditu",
        "title": gettext("天地图（需联网）"),
        "tiles": tiles("vec"),
        "overlay_tiles": tiles("cva"),
        "attribution": "© 天地图 Tianditu",
        "max_zoom": 18,
    }


# The street base map from the local PMTiles archive (settings.SEGIS_PMTILES_PATH): Protomaps'
# vector tiles of OpenStreetMap data, drawn by segis-map.js with the vendored @protomaps/basemaps
# style. Offline like the boundaries, so it is the map's first choice when configured.
STREETS = {
    "id": "streets",
    "title": gettext_lazy("街道（离线）"),
    "attribution": "© OpenStreetMap contributors · Protomaps",
}
PMTILES_MAX_AGE_S = 3600


def street_basemap() -> dict | None:
    """The street base map's entry in the map's configuration, or None while none is configured."""
    if not settings.SEGIS_PMTILES_PATH:
        return None
    return {**STREETS, "archive": reverse("map-basemap-archive")}


def online_basemaps() -> list[dict]:
    basemaps = [OSM]
    key = getattr(settings, "TIANDITU_KEY", "")
    if key:
        basemaps.append(_tianditu(key))
    return basemaps


def tiles_installed() -> bool:
    """Whether the URL conf serves the tile catalogue: until it does, the page asks for no tiles."""
    try:
        resolve(CATALOGUE_PATH)
    except Resolver404:
        return False
    return True


def map_config(user: User) -> dict:
    """Everything segis-map.js needs to start, all of it scoped to the user's jurisdiction."""
    prefix = user.jurisdiction_prefix
    kinds, varieties = catalogue.variety_choices()
    root = get_script_prefix()
    return {
        "bounds": jurisdiction_extent(prefix),
        "layers": LAYERS,
        "tiles_installed": tiles_installed(),
        "urls": {
            "basemap": reverse("map-basemap"),
            "regions": reverse("map-regions"),
            "tiles": f"{root}tiles/",
            "catalogue": root + CATALOGUE_PATH.lstrip("/"),
            "search": reverse("api-search"),
            "pass": f"{root}tiles/pass",
        },
        "map_pass": map_pass.issue(user),
        "basemaps": online_basemaps(),
        "street_basemap": street_basemap(),
        "kinds": kinds,
        "varieties": varieties,
        "statuses": catalogue.labelled(EquipmentStatus.choices),
        "roles": catalogue.labelled(UnitRole.choices),
        "resource_types": catalogue.labelled(ResourceType.choices),
        "severities": catalogue.labelled(Severity.choices),
        "regions": catalogue.region_choices(prefix),
        "choropleth_metrics": [
            {"name": name, "title": spec["title"]}
            for name, spec in catalogue.CHOROPLETH_METRICS.items()
        ],
    }


@login_required
def map_page(request: HttpRequest) -> HttpResponse:
    if request.user.jurisdiction_prefix is None:
        return render(request, "maps/no_jurisdiction.html", status=403)
    config = map_config(request.user)
    return render(request, "maps/map.html", {"config": config, "layers": LAYERS})


@login_required
def basemap(request: HttpRequest) -> HttpResponse:
    """The offline base map: simplified outlines of the requester's jurisdiction only."""
    prefix = request.user.jurisdiction_prefix
    if prefix is None:
        return no_jurisdiction()
    response = HttpResponse(basemap_geojson(prefix), content_type="application/geo+json")
    patch_cache_control(response, private=True, max_age=BASEMAP_MAX_AGE_S)
    return response


@require_safe
def basemap_archive(request: HttpRequest) -> HttpResponse:
    """The street base map's PMTiles archive in byte ranges (206, 416 for a bad range), for any
    signed-in user: it is public OpenStreetMap data, the same for every jurisdiction, so it is not
    scoped; the sign-in keeps a multi-gigabyte download off the open network. 404 while none is
    configured."""
    if not request.user.is_authenticated:
        return json_errors({"user": gettext("请先登录")}, status=403, rule=NOT_AUTHENTICATED)
    if not settings.SEGIS_PMTILES_PATH:
        raise Http404("no street base map is configured")
    if settings.SEGIS_PMTILES_ACCEL_PATH:
        # nginx answers the ranges itself from its internal location (docs/basemap.md).
        response = HttpResponse(content_type="application/vnd.pmtiles")
        response["X-Accel-Redirect"] = settings.SEGIS_PMTILES_ACCEL_PATH
        return response
    path = Path(settings.SEGIS_PMTILES_PATH)
    if not path.is_file():
        raise Http404("the street base map archive is missing")
    return ranged_file_response(request, path, "application/vnd.pmtiles", PMTILES_MAX_AGE_S)


@require_GET
def regions(request: HttpRequest) -> HttpResponse:
    """The region choropleth under the map's filters (maps/choropleth.py); 400 naming a bad
    filter, 403 JSON without a jurisdiction."""
    if (refused := jurisdiction_refusal(request)) is not None:
        return refused
    try:
        query = choropleth.parse_choropleth_query(request.GET)
    except FilterError as error:
        return json_errors(error.as_dict())
    body = choropleth.region_collection(request.user, query, timezone.localdate())
    return private(HttpResponse(body, content_type="application/geo+json"))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.jurisdiction_prefix is None:
        return render(request, "maps/no_jurisdiction.html", status=403)
    summary = jurisdiction_summary(request.user)
    return render(
        request,
        "maps/home.html",
        {
            "summary": summary,
            "map": map_fragment(dashboard_map(request.user, summary)),
            "overdue_classes": OVERDUE_CLASSES,
        },
    )


LIST_TITLES = {layer["name"]: layer["title"] for layer in LAYERS}


@login_required
@require_GET
def layer_list(request: HttpRequest, layer: str) -> HttpResponse:
    """A layer as a sorted, paged table under the map's filters (maps/lists.py); a bad parameter
    answers 400 with the page saying which and why."""
    if request.user.jurisdiction_prefix is None:
        return render(request, "maps/no_jurisdiction.html", status=403)
    filters = lists.layer_filters(request.GET)
    context = {
        "layer": layer,
        "title": LIST_TITLES.get(layer, layer),
        "layers": [(name, title) for name, title in LIST_TITLES.items() if name in lists.SHOWN],
        "filters": filters.urlencode(),
        "detail_page": lists.DETAIL_PAGES.get(layer),
    }
    try:
        page = lists.read(layer, request.user, request.GET)
    except FilterError as error:
        context["errors"] = error.as_dict()
        return render(request, "maps/list.html", context, status=400)

    def link(**changes) -> str:
        query = request.GET.copy()
        for name, value in changes.items():
            query[name] = value
        return "?" + query.urlencode()

    numeric = [column.type in ("int", "float") for column in page.columns]
    context.update(
        page=page,
        headers=[
            {
                "column": column,
                "numeric": is_number,
                "state": "asc"
                if page.sort == column.name_en
                else "desc"
                if page.sort == f"-{column.name_en}"
                else "",
                # A click sorts by the column; a second click turns the order round.
                "url": link(
                    sort=f"-{column.name_en}" if page.sort == column.name_en else column.name_en,
                    page=1,
                ),
            }
            for column, is_number in zip(page.columns, numeric, strict=True)
        ],
        # Each row's cells with their column's alignment (numbers to the right, under their header).
        rows=[
            {**row, "aligned": list(zip(row["cells"], numeric, strict=True))} for row in page.rows
        ],
        previous=link(page=page.number - 1) if page.number > 1 else "",
        next=link(page=page.number + 1) if page.number < page.pages else "",
        export=reverse("export")
        + "?"
        + "&".join(filter(None, [f"layer={layer}", context["filters"]])),
        on_map=reverse("map")
        + "?"
        + "&".join(filter(None, [f"layers={layer}", context["filters"]])),
    )
    return render(request, "maps/list.html", context)
