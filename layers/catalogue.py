"""The map's layer catalogue: names, titles, geometry, filters and legends (served as /tiles/layers.json).

The colours here are the map's palette: the map page styles features with the same values, so a
legend and the features it explains can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy

from common.i18n import in_language
from geo.models import Region
from licensing.models import LicenceKind
from licensing.reads import Validity
from registry import catalogue as codes
from registry.models import EquipmentStatus, UnitRole, Variety
from registry.models.events import ResourceType, Severity

from .filters import LAYER_FILTERS

# One colour per equipment kind (X000 code of the 2014 catalogue); anything else is OTHER_COLOUR.
KIND_COLOURS = {
    "1000": "#e15759",  # 锅炉 boilers
    "2000": "#f28e2b",  # 压力容器 pressure vessels
    "3000": "#4e79a7",  # 电梯 elevators
    "4000": "#edc948",  # 起重机械 lifting machinery
    "5000": "#59a14f",  # 场（厂）内专用机动车辆 field vehicles
    "6000": "#b07aa1",  # 大型游乐设施 amusement rides
    "7000": "#9c755f",  # 压力管道元件 piping components
    "8000": "#76b7b2",  # 压力管道 pipelines
    "9000": "#ff9da7",  # 客运索道 ropeways
}
OTHER_COLOUR = "#9d9d9d"

STATUS_STYLES = {
    EquipmentStatus.IN_USE: {"opacity": 1.0},
    EquipmentStatus.SUSPENDED: {"opacity": 0.6},
    EquipmentStatus.CANCELLED: {"opacity": 0.35},
    EquipmentStatus.SCRAPPED: {"opacity": 0.2},
}

# Days past the due date; `None` (no due date: a failed inspection) is the most urgent class.
OVERDUE_CLASSES = [
    (None, "#67001f", gettext_lazy("无下次检验日期（检验不合格）")),
    (30, "#fdae61", gettext_lazy("逾期 ≤ 30 天")),
    (90, "#f46d43", gettext_lazy("逾期 31–90 天")),
    (365, "#d73027", gettext_lazy("逾期 91–365 天")),
    (10**6, "#a50026", gettext_lazy("逾期 1 年以上")),
]

ROLE_COLOURS = {
    UnitRole.USE: "#4e79a7",
    UnitRole.MANUFACTURE: "#9c755f",
    UnitRole.INSTALLATION: "#f28e2b",
    UnitRole.MAINTENANCE: "#59a14f",
    UnitRole.INSPECTION: "#b07aa1",
    UnitRole.SUPERVISION: "#17becf",  # cyan: rescue teams have the red
    UnitRole.FILLING: "#edc948",
    UnitRole.RESCUE: "#d62728",
}

SEVERITY_COLOURS = {
    Severity.ORDINARY: "#fdae61",
    Severity.LARGE: "#f46d43",
    Severity.MAJOR: "#d73027",
    Severity.EXTRAORDINARY: "#67001f",
}

# Okabe & Ito's colour-blind-safe set: six hues that stay apart under protanopia, deuteranopia
# and tritanopia (fire stations and rescue teams were two near-identical reds before).
RESOURCE_COLOURS = {
    ResourceType.RESCUE_TEAM: "#cc79a7",  # reddish purple
    ResourceType.MAINTENANCE_STATION: "#009e73",  # bluish green
    ResourceType.FIRE_STATION: "#d55e00",  # vermilion
    ResourceType.HOSPITAL: "#56b4e9",  # sky blue
    ResourceType.HAZMAT_TEAM: "#e69f00",  # orange
    ResourceType.LIFTING_DEPOT: "#0072b2",  # blue
}

# The region choropleth (maps/choropleth.py): a sequential ColorBrewer ramp per metric, light to
# dark (colour-blind safe, and it still reads in grey), for up to five classes; zero and "no figure"
# have colours of their own, outside the ramps. Classes: device counts are ranked (quantiles: raw
# counts differ by orders of magnitude); the overdue rate has fixed limits, so a colour means the
# same share in every jurisdiction and under every filter (1–3 % is the usual range); accident
# rates depend on the time window, so they get equal steps from zero (a rate twice as high is
# twice as far along the ramp).
CHOROPLETH_METRICS = {
    "devices": {
        "title": gettext_lazy("设备数"),
        "note": gettext_lazy("按筛选条件统计的设备台数"),
        # Greens rather than blues: most equipment clusters are elevator blue.
        "ramp": ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"),  # YlGn
        "classes": "quantile",
        "empty": gettext_lazy("无设备"),
    },
    "overdue_rate": {
        "title": gettext_lazy("逾期率"),
        "note": gettext_lazy("逾期未检的在用设备 ÷ 在用设备"),
        "ramp": ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),  # YlOrRd
        "classes": (0.01, 0.02, 0.03, 0.05),
        "empty": gettext_lazy("无在用设备"),
    },
    "accident_rate": {
        "title": gettext_lazy("每万台事故数"),
        "note": gettext_lazy("时间范围内的事故 ÷ 设备 × 10,000"),
        "ramp": ("#feebe2", "#fbb4b9", "#f768a1", "#c51b8a", "#7a0177"),  # RdPu
        "classes": "equal",
        "empty": gettext_lazy("无设备"),
    },
    # Gas cylinders (issue 21): the equipment filters do not apply to them, the region does.
    "cylinder_overdue_rate": {
        "title": gettext_lazy("气瓶超期率"),
        "note": gettext_lazy("超期未检气瓶 ÷ 在用气瓶（设备筛选不适用）"),
        "ramp": ("#f1eef6", "#d7b5d8", "#df65b0", "#dd1c77", "#980043"),  # PuRd
        "classes": (0.01, 0.02, 0.05, 0.1),
        "empty": gettext_lazy("无在用气瓶"),
    },
}
# Filling stations: with violations on record or without.
STATION_CLASSES = [
    ("clean", "#1a9850", gettext_lazy("无违规")),
    ("violations", "#c0182b", gettext_lazy("有违规充装")),
]

# Stations that filled without a filling licence (无证充装): one class, the map's colour for them.
UNLICENSED_FILLING_COLOUR = "#b35806"

# Licences by validity on the day (licensing.reads.Validity).
LICENCE_CLASSES = [
    ("valid", "#1a9850"),
    ("expiring", "#fdae61"),
    ("expired", "#d73027"),
    ("suspended", "#7b3294"),
    ("revoked", "#4d4d4d"),
]

CHOROPLETH_ZERO = "#f4f4f1"
CHOROPLETH_NO_FIGURE = "#bdbdbd"

CLUSTER_PROPERTIES = {"count": "int", "cluster": "int (1)"}


@dataclass(frozen=True)
class Layer:
    name: str  # URL segment and the MVT layer name inside the tile
    title_zh: str
    title_en: str
    geometry: tuple[str, ...]  # at z >= CLUSTER_BELOW_ZOOM; clusters are always points
    properties: dict[str, str]  # of individual features
    cluster_properties: dict[str, str]  # besides count and cluster

    def legend(self) -> dict[str, Any]:
        return LEGENDS[self.name]()


def _choices_legend(by: str, colours: dict, choices) -> dict[str, Any]:
    return {
        "property": by,
        "items": [
            {"value": c.value, "label": str(c.label), "colour": colours[c.value]} for c in choices
        ],
    }


def _kind_legend() -> dict[str, Any]:
    names = {entry.code: entry for entry in codes.kinds()}
    return {
        "property": "kind",
        "items": [
            {
                "value": code,
                "label": in_language(names[code].name_zh, names[code].name_en),
                "colour": colour,
            }
            for code, colour in KIND_COLOURS.items()
        ],
        "other": OTHER_COLOUR,
    }


def _equipment_legend() -> dict[str, Any]:
    return {
        **_kind_legend(),
        "status": [
            {"value": s.value, "label": str(s.label), **STATUS_STYLES[s]} for s in EquipmentStatus
        ],
    }


def _overdue_legend() -> dict[str, Any]:
    return {
        "property": "days_overdue",
        "items": [
            {"max_days": limit, "colour": colour, "label": label}
            for limit, colour, label in OVERDUE_CLASSES
        ],
        "kind": _kind_legend(),
    }


LEGENDS = {
    "equipment": _equipment_legend,
    "overdue": _overdue_legend,
    "units": lambda: _choices_legend("roles", ROLE_COLOURS, UnitRole),
    "accidents": lambda: _choices_legend("severity", SEVERITY_COLOURS, Severity),
    "resources": lambda: _choices_legend("type", RESOURCE_COLOURS, ResourceType),
    "stations": lambda: {
        "property": "violations",
        "items": [{"value": v, "colour": c, "label": label} for v, c, label in STATION_CLASSES],
    },
    "licences": lambda: {
        "property": "validity",
        "items": [
            {"value": v, "colour": c, "label": Validity.labels()[v]} for v, c in LICENCE_CLASSES
        ],
        "kind": [{"value": c.value, "label": str(c.label)} for c in LicenceKind],
    },
    "unlicensed": _kind_legend,
    "unlicensed_filling": lambda: {
        "property": None,
        "items": [
            {
                "value": "unlicensed",
                "colour": UNLICENSED_FILLING_COLOUR,
                "label": gettext_lazy("无有效充装许可仍充装的充装站"),
            },
        ],
    },
}

EQUIPMENT_PROPERTIES = {
    "id": "int",
    "kind": "kind code",
    "variety": "catalogue code",
    "status": "status",
    "code": "device code (absent when none)",
}
# A filling station's figures: the stations layer's and the unlicensed-filling layer's alike.
STATION_PROPERTIES = {
    "id": "int",
    "name": "string",
    "cylinders": "int, cylinders owned",
    "overdue": "int, of them overdue",
    "fillings": "int, fillings in the last 30 days",
    "violations": "int, violations on record",
}

LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            "equipment",
            "特种设备",
            "Equipment",
            ("point", "line"),
            EQUIPMENT_PROPERTIES,
            {"kind": "dominant kind code"},
        ),
        Layer(
            "overdue",
            "逾期未检设备",
            "Overdue inspections",
            ("point", "line"),
            {**EQUIPMENT_PROPERTIES, "days_overdue": "int (absent when there is no due date)"},
            {"kind": "dominant kind code"},
        ),
        Layer(
            "units",
            "单位",
            "Units",
            ("point",),
            {"id": "int", "name": "string", "roles": "comma-separated roles"},
            {},
        ),
        Layer(
            "accidents",
            "事故",
            "Accidents",
            ("point",),
            {"id": "int", "severity": "severity", "deaths": "int", "occurred_at": "ISO 8601"},
            {"deaths": "int, total of the cluster"},
        ),
        Layer(
            "resources",
            "应急资源",
            "Emergency resources",
            ("point",),
            {"id": "int", "name": "string", "type": "resource type"},
            {"type": "dominant resource type"},
        ),
        Layer(
            "stations",
            "气瓶充装站",
            "Cylinder filling stations",
            ("point",),
            STATION_PROPERTIES,
            {"violations": "int, total of the cluster"},
        ),
        Layer(
            "licences",
            "行政许可",
            "Licences",
            ("point",),
            {
                "id": "int",
                "licence_kind": "licence kind",
                "validity": "valid, expiring, expired, suspended or revoked on the day",
                "number": "licence number",
                "unit": "string, the holder",
            },
            {"validity": "dominant validity"},
        ),
        Layer(
            "unlicensed",
            "无证生产安装",
            "Unlicensed manufacture or installation",
            ("point", "line"),
            EQUIPMENT_PROPERTIES,
            {"kind": "dominant kind code"},
        ),
        Layer(
            "unlicensed_filling",
            "无证充装",
            "Unlicensed filling",
            ("point",),
            STATION_PROPERTIES,
            {"violations": "int, total of the cluster"},
        ),
    )
}


def describe(tiles_url: str, count_url: str, cluster_below_zoom: int, **tile_facts) -> dict:
    """The catalogue as layers.json; URLs carry {layer} (and {z}/{x}/{y}) placeholders."""
    return {
        "cluster_below_zoom": cluster_below_zoom,
        **tile_facts,
        "layers": [
            {
                "name": layer.name,
                "title": {"zh": layer.title_zh, "en": layer.title_en},
                "geometry": list(layer.geometry),
                "tiles": tiles_url.replace("{layer}", layer.name),
                "count": count_url.replace("{layer}", layer.name),
                "filters": [d for f in LAYER_FILTERS[layer.name] for d in f.describe()],
                "properties": layer.properties,
                "cluster_properties": {**CLUSTER_PROPERTIES, **layer.cluster_properties},
                "legend": layer.legend(),
            }
            for layer in LAYERS.values()
        ],
    }


# --------------------------------------------------------------------------- filter choices

# The region filter lists the jurisdiction's divisions; past this many, counties are left out
# (a national user picks a province or city, then zooms; 2,800 counties make no usable list).
MAX_REGION_CHOICES = 600


def labelled(choices) -> list[dict]:
    """Django choices labelled "中文 / English" as [{value, label}]."""
    return [{"value": value, "label": str(label)} for value, label in choices]


def variety_choices() -> tuple[list[dict], list[dict]]:
    """Kinds, and the classes and varieties under them, for the filter panel (a class stands for
    every variety in it: the tile filters expand it)."""
    entries = Variety.objects.filter(registrable=True, retired=False).order_by("code")
    kinds, varieties = [], []
    for entry in entries.values("code", "level", "name_zh", "name_en"):
        row = {"code": entry["code"], "zh": entry["name_zh"], "en": entry["name_en"]}
        if entry["level"] == "kind":
            kinds.append(row)
        else:
            varieties.append({**row, "kind": entry["code"][0] + "000", "level": entry["level"]})
    return kinds, varieties


def region_choices(prefix: str) -> list[dict]:
    """The divisions under the jurisdiction as filter choices, each with its code prefix."""
    regions = Region.objects.within_prefix(prefix).listable(MAX_REGION_CHOICES)
    return [
        {"prefix": region.code_prefix, "name": region.name, "level": region.level}
        for region in regions.only("code", "name", "level").order_by("code")
    ]
