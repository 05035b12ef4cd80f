"""What each layer's export carries, and reading it from the scoped rows in chunks.

The columns are the properties the map shows (catalogue.LAYERS) plus the registry fields an
analyst needs: identifiers, catalogue names, status, address, units, region, dates. Never personal
data: no national ID numbers, and no contact names or phone numbers (units and emergency resources
name a contact person; that stays in the system, where reading it is audited).

Every column has a Chinese name (the field name in every format but Shapefile), an English name,
and an ASCII alias of at most 10 bytes for the Shapefile DBF; `dictionary_rows` lists all three.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsWKB
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from geo.models import Level, Region
from layers.catalogue import CHOROPLETH_METRICS
from layers.sources import SOURCES
from licensing.models import EXPIRING_DAYS, Licence, LicenceKind
from licensing.reads import Validity
from registry import catalogue, personal
from registry.models import Accident, EmergencyResource, Equipment, EquipmentStatus, Unit, UnitRole
from registry.models.events import CauseClass, InvestigationStatus, ResourceType, Severity

WKB = "export_wkb"


@dataclass(frozen=True)
class Lookups:
    """What decoding needs besides the row: the day overdue is counted to, names by code, and the
    language of the values (exports and OGC: Chinese, the data's own; a list page: the reader's)."""

    today: dt.date
    regions: dict[str, str]
    language: str = "zh-hans"

    @classmethod
    def for_prefix(cls, prefix: str, today: dt.date, language: str = "zh-hans") -> Lookups:
        names = Region.objects.within_prefix(prefix).values_list("code", "name")
        return cls(today, dict(names), language)

    @property
    def english(self) -> bool:
        return self.language.startswith("en")


Decode = Callable[[Any, Lookups], Any]


@dataclass(frozen=True)
class Column:
    """One exported field."""

    name_zh: str  # field name in GeoPackage, GeoJSON, KML, CSV and XLSX
    name_en: str
    alias: str  # Shapefile (DBF) field name: ASCII, at most 10 bytes
    type: str  # int, float, str, date, datetime (ISO 8601 text with the UTC offset)
    source: str  # a values_list() lookup on the layer's queryset (regions: a choropleth property)
    decode: Decode | None = None
    note: str = ""
    # A column of codes that files keep as codes (their data dictionary lists them) and a page
    # shows as words: the words by code in the active language.
    words: Callable[[], dict[str, str]] | None = None

    def values(self, raw: list[Any], lookups: Lookups) -> list[Any]:
        if self.decode is None:
            return raw
        return [None if v is None else self.decode(v, lookups) for v in raw]


def _labels(choices) -> Callable[[str], dict[str, str]]:
    """A choice's labels by value in a language (gettext labels: Chinese msgids), made once each."""

    @functools.cache
    def in_language(language: str) -> dict[str, str]:
        with translation.override(language):
            return {c.value: str(c.label) for c in choices}

    return in_language


def _choice(choices) -> Decode:
    labels = _labels(choices)
    return lambda value, lookups: labels(lookups.language).get(value, value)


@functools.cache
def _catalogue_names() -> dict[str, tuple[str, str]]:
    return {code: (entry.name_zh, entry.name_en) for code, entry in catalogue.entries().items()}


def _catalogue_name(code: str, lookups: Lookups) -> str:
    zh, en = _catalogue_names().get(code, ("", ""))
    return (en or zh) if lookups.english else zh


def _region_name(code: str, lookups: Lookups) -> str:
    return lookups.regions.get(code, "")


_role_labels = _labels(UnitRole)


def _roles(roles: list[str], lookups: Lookups) -> str:
    labels = _role_labels(lookups.language)
    return (", " if lookups.english else "、").join(labels.get(r, r) for r in roles)


def _days_overdue(due: dt.date, lookups: Lookups) -> int:
    return (lookups.today - due).days


def _local_iso(moment: dt.datetime, _: Lookups) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _number(value, _: Lookups) -> float:
    return float(value)


ID = Column("编号", "id", "ID", "int", "id")
REGION = (
    Column("区划代码", "division code", "REGION", "str", "region_id", note="GB/T 2260"),
    Column("所在区划", "division", "REGION_NM", "str", "region_id", _region_name),
)

_EQUIPMENT = (
    ID,
    Column("设备代码", "device code", "DEV_CODE", "str", "device_code"),
    Column("注册代码", "registration code", "REG_CODE", "str", "registration_code"),
    Column("使用登记证编号", "certificate number", "CERT_NO", "str", "certificate_number"),
    Column("96333救援识别码", "96333 rescue ID", "RESCUE_ID", "str", "rescue_id"),
    Column("设备种类代码", "kind code", "KIND", "str", "kind", note="特种设备目录 2014"),
    Column("设备种类", "kind", "KIND_NAME", "str", "kind", _catalogue_name),
    Column("设备品种代码", "variety code", "VARIETY", "str", "variety_id"),
    Column("设备品种", "variety", "VAR_NAME", "str", "variety_id", _catalogue_name),
    Column("设备状态", "status", "STATUS", "str", "status", _choice(EquipmentStatus)),
    Column("设备使用地点", "address", "ADDRESS", "str", "address"),
    Column("使用单位", "use unit", "USE_UNIT", "str", "use_unit__name"),
    Column(
        "使用单位信用代码", "use unit credit code", "USE_CREDIT", "str", "use_unit__credit_code"
    ),
    Column("维保单位", "maintenance unit", "MAINT_UNIT", "str", "maintenance_unit__name"),
    *REGION,
    Column("制造日期", "manufactured", "MADE_ON", "date", "manufactured_on"),
    Column("投入使用日期", "commissioned", "COMMISSION", "date", "commissioned_on"),
    Column("下次检验日期", "next inspection due", "NEXT_DUE", "date", "next_inspection_due"),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "equipment": _EQUIPMENT,
    "overdue": (
        *_EQUIPMENT,
        Column(
            "逾期天数",
            "days overdue",
            "DAYS_OVER",
            "int",
            "next_inspection_due",
            _days_overdue,
            note="导出当天计 / counted on the export day; 空 = 检验不合格无下次日期 / empty: "
            "failed inspection, no due date",
        ),
    ),
    "units": (
        ID,
        Column("单位名称", "name", "NAME", "str", "name"),
        Column("统一社会信用代码", "credit code", "CREDIT", "str", "credit_code"),
        Column("单位角色", "roles", "ROLES", "str", "roles", _roles),
        Column("单位地址", "address", "ADDRESS", "str", "address"),
        *REGION,
    ),
    "accidents": (
        ID,
        Column("发生时间", "occurred at", "OCCURRED", "datetime", "occurred_at", _local_iso),
        Column("事故类型", "kind", "KIND", "str", "kind"),
        Column("事故等级", "severity", "SEVERITY", "str", "severity", _choice(Severity)),
        Column("死亡人数", "deaths", "DEATHS", "int", "deaths"),
        Column("受伤人数", "injuries", "INJURIES", "int", "injuries"),
        Column(
            "直接经济损失（万元）",
            "direct loss (10k CNY)",
            "LOSS_10K",
            "float",
            "direct_loss",
            _number,
        ),
        Column("原因分类", "cause", "CAUSE", "str", "cause_class", _choice(CauseClass)),
        Column(
            "调查状态",
            "investigation",
            "INVESTIG",
            "str",
            "investigation_status",
            _choice(InvestigationStatus),
        ),
        Column("事故地点", "address", "ADDRESS", "str", "address"),
        Column("设备代码", "device code", "DEV_CODE", "str", "equipment__device_code"),
        Column("设备种类代码", "equipment kind code", "EQ_KIND", "str", "equipment__kind"),
        Column("使用单位", "unit", "UNIT", "str", "unit__name"),
        *REGION,
    ),
    "resources": (
        ID,
        Column("名称", "name", "NAME", "str", "name"),
        Column("资源类型", "type", "TYPE", "str", "resource_type", _choice(ResourceType)),
        Column("能力", "capability", "CAPABILITY", "str", "capability"),
        Column("值守时间", "duty hours", "DUTY_HOURS", "str", "duty_hours"),
        Column("地址", "address", "ADDRESS", "str", "address"),
        Column("所属单位", "unit", "UNIT", "str", "unit__name"),
        *REGION,
    ),
    "stations": (
        ID,
        Column("单位名称", "name", "NAME", "str", "name"),
        Column("统一社会信用代码", "credit code", "CREDIT", "str", "credit_code"),
        Column("充装许可证编号", "licence number", "LICENCE", "str", "licence_number"),
        Column("许可证有效期至", "licence valid until", "LIC_UNTIL", "date", "licence_expires"),
        Column("产权气瓶数", "cylinders owned", "CYLINDERS", "int", "owned_cylinders"),
        Column(
            "超期未检气瓶数",
            "overdue cylinders",
            "OVERDUE",
            "int",
            "overdue",
            note="导出当天计 / on the export day",
        ),
        Column("近 30 天充装数", "fillings in 30 days", "FILLINGS", "int", "fillings"),
        Column("违规数", "violations", "VIOLATIONS", "int", "violations"),
        Column("单位地址", "address", "ADDRESS", "str", "address"),
        *REGION,
    ),  # fmt: skip
    "licences": (
        ID,
        Column("许可证编号", "licence number", "NUMBER", "str", "number"),
        Column("持证单位", "unit", "UNIT", "str", "unit_name"),
        Column("统一社会信用代码", "credit code", "CREDIT", "str", "unit__credit_code"),
        Column("许可类别", "licence kind", "KIND", "str", "kind", _choice(LicenceKind)),
        Column("发证机关", "issuing authority", "AUTHORITY", "str", "authority"),
        Column("发证日期", "issued", "ISSUED", "date", "issued_on"),
        Column("有效期至", "expires", "EXPIRES", "date", "expires_on"),
        Column(
            "有效性",
            "validity",
            "VALIDITY",
            "str",
            "validity",
            words=Validity.labels,
            note="导出当天计 / on the export day: "
            + ", ".join(Validity.ALL)
            + f" (expiring: {EXPIRING_DAYS} 天内到期 / within {EXPIRING_DAYS} days)",
        ),
        *REGION,
    ),  # fmt: skip
    "unlicensed": _EQUIPMENT,
    # The properties of the map's choropleth features (maps.choropleth.figures_of), as they are.
    "regions": (
        Column("区划代码", "division code", "CODE", "str", "code", note="GB/T 2260"),
        Column("区划名称", "division", "NAME", "str", "name"),
        Column("区划级别", "level", "LEVEL", "str", "level", _choice(Level)),
        Column(
            "设备数",
            "devices",
            "DEVICES",
            "int",
            "devices",
            note=CHOROPLETH_METRICS["devices"]["note"],
        ),
        Column("在用设备数", "devices in use", "IN_USE", "int", "in_use"),
        Column(
            "逾期设备数",
            "overdue devices",
            "OVERDUE",
            "int",
            "overdue",
            note="逾期未检的在用设备，导出当天计 / overdue in-use devices on the export day",
        ),
        Column(
            "逾期率",
            "overdue rate",
            "OVER_RATE",
            "float",
            "overdue_rate",
            note=CHOROPLETH_METRICS["overdue_rate"]["note"] + "; 空 = 无在用设备 / empty: "
            "no device in use",
        ),
        Column(
            "事故数",
            "accidents",
            "ACCIDENTS",
            "int",
            "accidents",
            note="筛选的时间范围内 / in the filters' time window",
        ),
        Column(
            "每万台事故数",
            "accidents per 10,000 devices",
            "ACC_RATE",
            "float",
            "accident_rate",
            note=CHOROPLETH_METRICS["accident_rate"]["note"] + "; 空 = 无设备 / empty: no devices",
        ),
        Column("在用气瓶数", "cylinders in service", "CYLINDERS", "int", "cylinders"),
        Column("超期气瓶数", "overdue cylinders", "CYL_OVER", "int", "overdue_cylinders"),
        Column(
            "气瓶超期率",
            "overdue cylinder share",
            "CYL_RATE",
            "float",
            "cylinder_overdue_rate",
            note=CHOROPLETH_METRICS["cylinder_overdue_rate"]["note"] + "; 空 = 无在用气瓶 / "
            "empty: no cylinder in service",
        ),
    ),  # fmt: skip
}

# Filling stations without a filling licence (无证充装): the stations layer's columns.
COLUMNS["unlicensed_filling"] = COLUMNS["stations"]

# The model whose rows each layer exports (regions: choropleth figures, no model fields).
LAYER_MODELS = {
    "equipment": Equipment,
    "overdue": Equipment,
    "units": Unit,
    "accidents": Accident,
    "resources": EmergencyResource,
    "stations": Unit,
    "licences": Licence,
    "unlicensed": Equipment,
    "unlicensed_filling": Unit,
}


def personal_columns(layer: str) -> list[str]:
    """The layer's columns that read a personal field (registry.personal): there must be none."""
    model = LAYER_MODELS.get(layer)
    if model is None:
        return []
    return [c.source for c in COLUMNS[layer] if personal.lookup_is_personal(model, c.source)]


# Exports and OGC serve these columns to every role, analysts included, with no audit row: a
# personal column added above stops the start-up rather than leak.
if leaked := {layer: cols for layer in COLUMNS if (cols := personal_columns(layer))}:
    raise ImproperlyConfigured(f"personal data in export columns: {leaked}")

# The column a KML placemark is named after (what Google Earth labels it with).
PLACEMARK_NAMES = {
    "equipment": "设备代码",
    "overdue": "设备代码",
    "units": "单位名称",
    "accidents": "事故类型",
    "resources": "名称",
    "stations": "单位名称",
    "licences": "许可证编号",
    "unlicensed": "设备代码",
    "unlicensed_filling": "单位名称",
    "regions": "区划名称",
}


def dictionary_rows(layer: str) -> list[tuple[str, str, str, str, str]]:
    """(alias, Chinese name, English name, type, note) of each column."""
    return [(c.alias, c.name_zh, c.name_en, c.type, c.note) for c in COLUMNS[layer]]


# --------------------------------------------------------------------------- reading rows


def _shape(layer: str):
    """The stored 4326 geometry as WKB: the line of a pipeline, the point of anything else."""
    columns = SOURCES[layer].geometry_columns
    if len(columns) == 1:
        return AsWKB(F(columns[0]))
    # The row holds exactly one of them (equipment_geometry_matches_kind).
    return AsWKB(Coalesce(*(F(c) for c in reversed(columns)), output_field=GeometryField()))


@dataclass(frozen=True)
class Chunk:
    """A run of rows: decoded values per column, and their geometries as WKB."""

    values: list[list[Any]]
    wkb: np.ndarray  # object array of bytes

    def __len__(self) -> int:
        return len(self.wkb)


def read_chunks(
    layer: str, queryset: QuerySet, lookups: Lookups, chunk_rows: int
) -> Iterator[Chunk]:
    """The queryset's rows in id order, `chunk_rows` at a time, through a server-side cursor."""
    columns = COLUMNS[layer]
    sources = list(dict.fromkeys(c.source for c in columns))
    position = {s: i for i, s in enumerate(sources)}
    rows = (
        queryset.order_by("id")
        .annotate(**{WKB: _shape(layer)})
        .values_list(*sources, WKB)
        .iterator(chunk_size=chunk_rows)
    )
    while batch := list(islice(rows, chunk_rows)):
        fields = list(zip(*batch, strict=True))
        values = [c.values(list(fields[position[c.source]]), lookups) for c in columns]
        wkb = np.empty(len(batch), dtype=object)
        wkb[:] = [bytes(w) if w is not None else None for w in fields[-1]]
        yield Chunk(values, wkb)
