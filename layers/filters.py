"""Query-string filters of the map layers: one small parser per concern, allow-listed per layer.

Each filter reads its own parameters, answers a `FilterError` naming the parameter for anything it
cannot read, and narrows an already scoped queryset with the ORM. A layer accepts only the filters
listed for it in `LAYER_FILTERS`; any other parameter is an error too, so a typo never silently
widens what a tile shows. An empty value (``?kind=``, what an HTML form sends for an untouched
field) means "not given".
"""

from __future__ import annotations

import abc
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from common.errors import Errors, error_dict
from licensing.models import LicenceKind
from registry import catalogue
from registry.models import EquipmentStatus, UnitRole
from registry.models.events import ResourceType

MAX_VALUE_LENGTH = 2000
MAX_LIST_ITEMS = 100
# Web Mercator stops short of the poles: a box is clamped to this latitude before it is projected.
MERCATOR_MAX_LATITUDE = 85.0511287798066


class FilterError(ValueError):
    """Query parameters a layer cannot read, each with a message a user can act on and a rule
    (`invalid` unless `rules` names another)."""

    def __init__(self, errors: Mapping[str, str], rules: Mapping[str, str] | None = None):
        self.errors = dict(errors)
        self.rules = dict(rules or {})
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))

    def as_dict(self) -> Errors:
        """The error envelope's inner dict."""
        return error_dict(self.errors, self.rules)


@dataclass(frozen=True)
class BBox:
    """A lon/lat box, west < east and south < north, inside ±180° / ±90°."""

    west: float
    south: float
    east: float
    north: float

    def clamped(self) -> BBox:
        """The part of the box Web Mercator can project."""
        return BBox(
            self.west,
            max(self.south, -MERCATOR_MAX_LATITUDE),
            self.east,
            min(self.north, MERCATOR_MAX_LATITUDE),
        )


class Filter(abc.ABC):
    """Reads `params` from the query string; `apply` narrows a queryset by the parsed value."""

    params: tuple[str, ...] = ()
    description = ""

    @abc.abstractmethod
    def parse(self, raw: Mapping[str, str]) -> Any:
        """The parsed value, or None when none of the parameters was given."""

    @abc.abstractmethod
    def apply(self, queryset: QuerySet, value: Any) -> QuerySet:
        """The queryset narrowed by a value `parse` returned."""

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": p, "description": self.description} for p in self.params]


def _items(param: str, raw: str) -> list[str]:
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise FilterError({param: "列表中有空项 / empty item in the comma-separated list"})
    if len(items) > MAX_LIST_ITEMS:
        raise FilterError({param: f"最多 {MAX_LIST_ITEMS} 项 / at most {MAX_LIST_ITEMS} values"})
    return list(dict.fromkeys(items))


class KindFilter(Filter):
    """Equipment kinds (X000 codes of the 2014 catalogue)."""

    params = ("kind",)
    description = "设备种类代码，逗号分隔 / comma list of 4-character kind codes, e.g. 3000,4000"

    def __init__(self, field: str = "kind"):
        self.field = field

    def parse(self, raw):
        if "kind" not in raw:
            return None
        kinds = {entry.code for entry in catalogue.kinds()}
        codes = [catalogue.normalise_code(c) for c in _items("kind", raw["kind"])]
        unknown = [c for c in codes if c not in kinds]
        if unknown:
            raise FilterError(
                {
                    "kind": f"不是设备种类代码 / not a kind code: {', '.join(unknown)} "
                    f"(kinds: {', '.join(sorted(kinds))})"
                }
            )
        return tuple(sorted(codes))

    def apply(self, queryset, value):
        return queryset.filter(**{f"{self.field}__in": value})

    def describe(self):
        return [
            {
                "name": "kind",
                "description": self.description,
                "choices": [entry.code for entry in catalogue.kinds()],
            }
        ]


class VarietyFilter(Filter):
    """Catalogue codes at any level: a class or kind stands for every variety under it."""

    params = ("variety",)
    description = (
        "目录代码（种类/类别/品种），逗号分隔 / comma list of catalogue codes; a class or kind "
        "code includes every variety under it"
    )

    def __init__(self, field: str = "variety_id"):
        self.field = field

    def parse(self, raw):
        if "variety" not in raw:
            return None
        table = catalogue.entries()
        codes = [catalogue.normalise_code(c) for c in _items("variety", raw["variety"])]
        unknown = [c for c in codes if c not in table]
        if unknown:
            raise FilterError(
                {"variety": f"不在特种设备目录中 / not in the catalogue: {', '.join(unknown)}"}
            )
        children: dict[str, list[str]] = {}
        for entry in table.values():
            children.setdefault(entry.parent, []).append(entry.code)
        expanded, todo = set(), list(codes)
        while todo:
            code = todo.pop()
            if code not in expanded:
                expanded.add(code)
                todo.extend(children.get(code, ()))
        return tuple(sorted(expanded))

    def apply(self, queryset, value):
        return queryset.filter(**{f"{self.field}__in": value})


class ChoiceFilter(Filter):
    """A comma list of values from a fixed set of choices."""

    def __init__(self, param: str, field: str, choices, description: str, lookup: str = "in"):
        self.params = (param,)
        self.field, self.lookup, self.description = field, lookup, description
        self.choices = tuple(c.value for c in choices)

    def parse(self, raw):
        param = self.params[0]
        if param not in raw:
            return None
        values = _items(param, raw[param])
        unknown = [v for v in values if v not in self.choices]
        if unknown:
            raise FilterError(
                {
                    param: f"未知取值 / unknown value: {', '.join(unknown)} "
                    f"(one of {', '.join(self.choices)})"
                }
            )
        return tuple(sorted(values))

    def apply(self, queryset, value):
        return queryset.filter(**{f"{self.field}__{self.lookup}": list(value)})

    def describe(self):
        return [{"name": self.params[0], "description": self.description, "choices": self.choices}]


REGION_PATTERN = re.compile(r"[0-9]{2,6}")


class RegionFilter(Filter):
    """A division-code prefix. It narrows the user's jurisdiction and never widens it: the scoped
    queryset already holds `region LIKE '<user prefix>%'`, and this adds `region LIKE '<prefix>%'`,
    so a prefix outside the jurisdiction yields nothing."""

    params = ("region",)
    description = "行政区划代码前缀（2–6 位）/ division-code prefix, 2–6 digits"

    def parse(self, raw):
        if "region" not in raw:
            return None
        value = raw["region"].strip()
        if not REGION_PATTERN.fullmatch(value):
            raise FilterError(
                {
                    "region": "应为 2–6 位行政区划代码前缀 / expected a 2–6 digit division-code prefix"
                }
            )
        return value

    def apply(self, queryset, value):
        return queryset.within_prefix(value)


def _date(param: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise FilterError(
            {param: "应为 ISO 日期 YYYY-MM-DD / expected an ISO date YYYY-MM-DD"}
        ) from None


WINDOWS = {
    "24h": dt.timedelta(hours=24),
    "30d": dt.timedelta(days=30),
    "1y": dt.timedelta(days=365),
}


class DateRangeFilter(Filter):
    """`from` / `to` inclusive ISO dates on a date or date-time field; with `window`, a sliding
    window ending now (24h, 30d, 1y) that excludes from/to."""

    def __init__(self, field: str, *, timestamp: bool = False, window: bool = False):
        self.field, self.timestamp, self.window = field, timestamp, window
        self.params = ("from", "to", "window") if window else ("from", "to")
        self.description = f"起止日期（含）/ inclusive ISO dates on {field}"

    def parse(self, raw):
        given = {p: raw[p] for p in self.params if p in raw}
        if not given:
            return None
        if "window" in given:
            if "from" in given or "to" in given:
                raise FilterError(
                    {"window": "不能与 from/to 同时使用 / window excludes from and to"}
                )
            if given["window"] not in WINDOWS:
                raise FilterError(
                    {"window": f"应为 {', '.join(WINDOWS)} 之一 / one of {', '.join(WINDOWS)}"}
                )
            return ("window", given["window"])
        start = _date("from", given["from"]) if "from" in given else None
        end = _date("to", given["to"]) if "to" in given else None
        if start and end and start > end:
            raise FilterError({"to": "早于 from / earlier than from"})
        return ("dates", start, end)

    def apply(self, queryset, value):
        if value[0] == "window":
            return queryset.filter(**{f"{self.field}__gte": timezone.now() - WINDOWS[value[1]]})
        _, start, end = value
        if not self.timestamp:
            if start:
                queryset = queryset.filter(**{f"{self.field}__gte": start})
            if end:
                queryset = queryset.filter(**{f"{self.field}__lte": end})
            return queryset
        # Local calendar days as half-open instants: the column keeps its index (no ::date cast).
        tz = timezone.get_current_timezone()
        if start:
            since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field}__gte": since})
        if end:
            until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field}__lt": until})
        return queryset

    def describe(self):
        described = [
            {
                "name": "from",
                "description": f"起始日期（含）/ first day, ISO date, on {self.field}",
            },
            {"name": "to", "description": f"截止日期（含）/ last day, ISO date, on {self.field}"},
        ]
        if self.window:
            described.append(
                {
                    "name": "window",
                    "description": "截至现在的时间窗 / a window ending now; excludes from/to",
                    "choices": list(WINDOWS),
                }
            )
        return described


def parse_bbox(raw: str) -> BBox:
    """`minlon,minlat,maxlon,maxlat` in WGS84 degrees."""
    parts = raw.split(",")
    if len(parts) != 4:
        raise FilterError(
            {
                "bbox": "应为 minlon,minlat,maxlon,maxlat 四个数 / expected minlon,minlat,maxlon,maxlat"
            }
        )
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise FilterError({"bbox": "坐标不是数字 / the coordinates are not numbers"}) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise FilterError({"bbox": "坐标不是有限数 / the coordinates are not finite numbers"})
    if west >= east or south >= north:
        raise FilterError({"bbox": "范围颠倒或为空 / inverted or empty box: min must be < max"})
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise FilterError(
            {"bbox": "超出 ±180° 经度 / ±90° 纬度 / outside ±180° longitude or ±90° latitude"}
        )
    return BBox(west, south, east, north)


def _equipment_filters(*, overdue: bool) -> tuple[Filter, ...]:
    filters: list[Filter] = [KindFilter(), VarietyFilter(), RegionFilter()]
    if not overdue:  # the overdue layer is in-use equipment by definition
        filters.append(
            ChoiceFilter(
                "status", "status", EquipmentStatus, "设备状态，逗号分隔 / comma list of statuses"
            )
        )
    filters.append(DateRangeFilter("commissioned_on"))
    return tuple(filters)


LAYER_FILTERS: dict[str, tuple[Filter, ...]] = {
    "stations": (RegionFilter(),),
    "licences": (
        RegionFilter(),
        ChoiceFilter(
            "licence_kind", "kind", LicenceKind, "许可类别，逗号分隔 / comma list of licence kinds"
        ),
    ),
    "unlicensed": (KindFilter(), VarietyFilter(), RegionFilter()),
    "unlicensed_filling": (RegionFilter(),),
    "equipment": _equipment_filters(overdue=False),
    "overdue": _equipment_filters(overdue=True),
    "units": (
        RegionFilter(),
        ChoiceFilter(
            "role",
            "roles",
            UnitRole,
            "单位角色，逗号分隔，任一匹配 / comma list of roles, any of them",
            lookup="overlap",
        ),
    ),
    "accidents": (
        KindFilter("equipment__kind"),
        RegionFilter(),
        DateRangeFilter("occurred_at", timestamp=True, window=True),
    ),
    "resources": (
        RegionFilter(),
        ChoiceFilter(
            "type",
            "resource_type",
            ResourceType,
            "资源类型，逗号分隔 / comma list of resource types",
        ),
    ),
}


@dataclass(frozen=True)
class LayerQuery:
    """The filters parsed from one request: apply them to a scoped queryset; `key` names them for a cache."""

    layer: str
    values: tuple[tuple[int, Any], ...]  # (index into LAYER_FILTERS[layer], parsed value)
    bbox: BBox | None = None

    @property
    def key(self) -> tuple:
        return (self.layer, self.values, self.bbox)

    def apply(self, queryset: QuerySet) -> QuerySet:
        filters = LAYER_FILTERS[self.layer]
        for index, value in self.values:
            queryset = filters[index].apply(queryset, value)
        return queryset


def accepted_params(layer: str, extra: Iterable[str] = ()) -> list[str]:
    return [p for f in LAYER_FILTERS[layer] for p in f.params] + list(extra)


def parse_query(layer: str, query: QueryDict, *, allow_bbox: bool = False) -> LayerQuery:
    """Every filter of the layer read from the query string; all problems at once in a FilterError."""
    errors: dict[str, str] = {}
    accepted = accepted_params(layer, ["bbox"] if allow_bbox else [])
    raw: dict[str, str] = {}
    for param, values in query.lists():
        if param not in accepted:
            errors[param] = (
                f"未知参数 / unknown parameter for layer {layer}; accepted: {', '.join(accepted)}"
            )
        elif len(values) > 1:
            errors[param] = "参数重复 / given more than once"
        elif len(values[0]) > MAX_VALUE_LENGTH:
            errors[param] = f"过长 / longer than {MAX_VALUE_LENGTH} characters"
        elif values[0].strip():
            raw[param] = values[0]
    parsed: list[tuple[int, Any]] = []
    for index, f in enumerate(LAYER_FILTERS[layer]):
        if any(p in errors for p in f.params):
            continue
        try:
            value = f.parse(raw)
        except FilterError as error:
            errors.update(error.errors)
            continue
        if value is not None:
            parsed.append((index, value))
    bbox = None
    if "bbox" in raw:
        try:
            bbox = parse_bbox(raw["bbox"])
        except FilterError as error:
            errors.update(error.errors)
    if errors:
        raise FilterError(errors)
    return LayerQuery(layer, tuple(parsed), bbox)


def openapi_parameters(layer: str) -> list[dict[str, Any]]:
    """The layer's filters as OpenAPI query parameters (the map's and the OGC API's documents)."""
    parameters = []
    for f in LAYER_FILTERS[layer]:
        for described in f.describe():
            name, choices = described["name"], described.get("choices")
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": False,
                "description": described["description"],
            }
            if isinstance(f, (KindFilter, VarietyFilter, ChoiceFilter)):
                items = {"type": "string", **({"enum": list(choices)} if choices else {})}
                parameter["schema"] = {"type": "array", "items": items, "maxItems": MAX_LIST_ITEMS}
                parameter["style"], parameter["explode"] = "form", False
            elif isinstance(f, RegionFilter):
                parameter["schema"] = {"type": "string", "pattern": f"^{REGION_PATTERN.pattern}$"}
            elif isinstance(f, DateRangeFilter) and name in ("from", "to"):
                parameter["schema"] = {"type": "string", "format": "date"}
            else:
                parameter["schema"] = {
                    "type": "string",
                    **({"enum": list(choices)} if choices else {}),
                }
            parameters.append(parameter)
    return parameters
