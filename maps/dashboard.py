"""The jurisdiction map on the home page: sub-regions coloured by overdue rate, overdue devices, accidents, resources."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext

from accounts.models import User
from common.i18n import in_language
from geo.functions import has_geometry
from geo.models import Region
from geo.offline import add_heatmap, add_marker_cluster, map_text, offline_map
from geo.outlines import Outline, outlines
from maps.summary import Summary
from registry.models import Accident, EmergencyResource, Equipment

if TYPE_CHECKING:
    import folium

# Overdue rate classes (share of in-use devices): the legend on the page shows the same bins.
OVERDUE_CLASSES = [
    (0.01, "#1a9850", "< 1 %"),
    (0.02, "#fee08b", "1–2 %"),
    (0.03, "#fc8d59", "2–3 %"),
    (1.01, "#d73027", "≥ 3 %"),
]
# Past this many overdue devices the layer becomes a heat map: no page carries thousands of markers.
MAX_MARKERS = 1000


def overdue_colour(rate: float) -> str:
    return next(colour for limit, colour, _ in OVERDUE_CLASSES if rate < limit)


def _feature_collection(regions: list[Outline], properties: dict[str, dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(shape),
                "properties": properties.get(code, {"name": name}),
            }
            for code, name, _, shape, _ in regions
        ],
    }


def dashboard_map(user: User, summary: Summary) -> folium.Map:
    import folium

    prefix = user.jurisdiction_prefix or ""
    width = len(summary.by_region[0].code) if summary.by_region else 6
    rows = {r.code: r for r in summary.by_region}
    regions = outlines(
        Region.objects.within_prefix(prefix).filter(code__in=[code.ljust(6, "0") for code in rows]),
        0.002,
    )
    properties = {}
    for code, name, *_ in regions:
        row = rows[code[:width]]
        properties[code] = {
            "name": name,
            "devices": row.devices,
            "overdue": row.overdue,
            "rate": f"{row.overdue_rate:.1%}",
            "colour": overdue_colour(row.overdue_rate),
        }
    collection = _feature_collection(regions, properties)
    m = offline_map(zoom_start=8, control_scale=True, prefer_canvas=True)
    if not collection["features"]:  # no boundaries loaded for this jurisdiction
        return _with_point_layers(m, user)
    choropleth = folium.GeoJson(
        collection,
        name=gettext("逾期率"),
        style_function=lambda f: {
            "fillColor": f["properties"].get("colour", "#cccccc"),
            "color": "#44546a",
            "weight": 1.2,
            "fillOpacity": 0.45,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.65},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "devices", "overdue", "rate"],
            aliases=[
                gettext("区划"),
                pgettext("count", "设备"),
                gettext("逾期"),
                gettext("逾期率"),
            ],
        ),
    ).add_to(m)
    m.fit_bounds(choropleth.get_bounds())
    return _with_point_layers(m, user)


def _with_point_layers(m: folium.Map, user: User) -> folium.Map:
    """Overdue devices, accidents and emergency resources over the region map, with a layer switch."""
    import folium

    overdue = (
        Equipment.objects.visible_to(user)
        .overdue()
        .filter(has_geometry())
        .select_related("variety")
    )
    overdue_count = overdue.count()
    overdue_layer = folium.FeatureGroup(
        name=gettext("逾期设备（%(n)s）") % {"n": overdue_count}
    ).add_to(m)
    if overdue_count > MAX_MARKERS:
        add_heatmap(
            overdue_layer,
            [(p.y, p.x) for p in overdue.values_list("location", flat=True)],
            radius=12,
        )
    else:
        today = dt.date.today()
        for device in overdue.only(
            "id",
            "device_code",
            "location",
            "next_inspection_due",
            "variety__name_zh",
            "variety__name_en",
        ):
            days = (today - device.next_inspection_due).days if device.next_inspection_due else None
            folium.CircleMarker(
                (device.location.y, device.location.x),
                radius=4,
                color="#b2182b",
                fill=True,
                fill_opacity=0.8,
                weight=1,
                popup=folium.Popup(
                    format_html(
                        '<b>{}</b><br>{}<br>{}<br><a href="{}">{}</a>',
                        map_text(device.device_code or device.pk),
                        map_text(in_language(device.variety.name_zh, device.variety.name_en)),
                        ngettext("逾期 %(n)s 天", "逾期 %(n)s 天", days) % {"n": days}
                        if days is not None
                        else gettext("检验不合格"),
                        reverse("equipment-page", args=[device.pk]),
                        gettext("详情"),
                    ),
                    max_width=260,
                ),
            ).add_to(overdue_layer)

    accidents_layer = folium.FeatureGroup(name=gettext("事故")).add_to(m)
    for accident in Accident.objects.visible_to(user).filter(has_geometry())[:MAX_MARKERS]:
        folium.Marker(
            (accident.location.y, accident.location.x),
            # A plain-HTML icon: Leaflet draws it with no plugin (folium's polygon markers need a CDN script).
            icon=folium.DivIcon(
                html='<div class="accident-icon">▲</div>', icon_size=(18, 18), icon_anchor=(9, 9)
            ),
            popup=folium.Popup(
                format_html(
                    "<b>{}</b><br>{} · {}<br>{}",
                    map_text(accident.kind),
                    f"{accident.occurred_at:%Y-%m-%d}",
                    accident.get_severity_display(),
                    gettext("死亡 %(n)s 人") % {"n": accident.deaths},
                ),
                max_width=260,
            ),
        ).add_to(accidents_layer)

    resources_layer = folium.FeatureGroup(name=gettext("应急资源"), show=False).add_to(m)
    cluster = add_marker_cluster(resources_layer)
    for resource in (
        EmergencyResource.objects.visible_to(user)
        .filter(has_geometry())
        .only("name", "resource_type", "location", "duty_hours")[:MAX_MARKERS]
    ):
        folium.Marker(
            (resource.location.y, resource.location.x),
            tooltip=map_text(f"{resource.name} · {resource.get_resource_type_display()}"),
        ).add_to(cluster)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
