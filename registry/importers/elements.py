"""The data elements a file's columns map to, per dataset, and the headers each is recognised by.

Names follow the model fields (and GB/T 38700 where it names the element); `headers` are the
column titles seen in provincial exports, matched after `header_key` folds width, case, spaces
and punctuation, so "设备代码（18位）", "设备 代码" and "DEVICE_CODE" find the same element.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..models.imports import Dataset

TEXT, CODE, DATE, INTEGER, NUMBER, LON, LAT = (
    "text",
    "code",
    "date",
    "integer",
    "number",
    "lon",
    "lat",
)


@dataclass(frozen=True)
class Element:
    name: str
    label: str  # "中文 / English", as the report and the mapping form show it
    headers: tuple[str, ...] = ()
    kind: str = TEXT
    required: bool = False


# One element of each group must be mapped (a device is known by either code; a point or a division).
EITHER = {
    Dataset.EQUIPMENT: (("device_code", "registration_code"), ("lon", "division_code")),
    Dataset.UNITS: (("lon", "division_code"),),
    # An accident given by its device is placed at the device.
    Dataset.ACCIDENTS: (("lon", "division_code", "equipment_code"),),
    Dataset.INSPECTIONS: (("device_code", "registration_code"),),
}

_LOCATION = (
    Element("lon", "经度 / longitude", ("经度", "lon", "lng", "longitude", "x", "东经"), LON),
    Element("lat", "纬度 / latitude", ("纬度", "lat", "latitude", "y", "北纬"), LAT),
    Element(
        "division_code",
        "行政区划代码 / division code",
        (
            "行政区划代码",
            "区划代码",
            "所在区划代码",
            "区域代码",
            "division_code",
            "region_code",
            "adcode",
        ),
        CODE,
    ),
)
_DEVICE_KEYS = (
    Element(
        "device_code",
        "设备代码 / device code",
        ("设备代码", "设备编码", "设备代码18位", "device_code"),
        CODE,
    ),
    Element(
        "registration_code",
        "注册代码 / registration code",
        ("注册代码", "设备注册代码", "注册登记代码", "registration_code"),
        CODE,
    ),
)

ELEMENTS: dict[str, tuple[Element, ...]] = {
    Dataset.EQUIPMENT: (
        *_DEVICE_KEYS,
        Element(
            "certificate_number",
            "使用登记证编号 / certificate number",
            ("使用登记证编号", "使用登记证号", "登记证编号", "使用证编号", "使用证号", "certificate_number"),
        ),
        Element(
            "rescue_id",
            "96333救援识别码 / 96333 rescue ID",
            ("96333救援识别码", "救援识别码", "96333识别码", "96333编号", "应急救援识别码", "rescue_id"),
            CODE,
        ),
        Element(
            "variety",
            "设备品种代码 / variety code",
            ("设备品种代码", "品种代码", "设备品种", "设备类别代码", "variety", "variety_code"),
            CODE,
            required=True,
        ),
        Element("status", "设备状态 / status", ("设备状态", "状态", "使用状态", "status")),
        *_LOCATION,
        Element(
            "address",
            "设备使用地点 / address",
            ("设备使用地点", "使用地点", "安装地点", "设备地址", "地址", "address"),
        ),
        Element(
            "use_unit_name",
            "使用单位名称 / use unit",
            ("使用单位名称", "使用单位", "use_unit", "use_unit_name"),
            required=True,
        ),
        Element(
            "use_unit_credit_code",
            "使用单位统一社会信用代码 / use unit credit code",
            ("使用单位统一社会信用代码", "使用单位信用代码", "使用单位代码", "use_unit_credit_code"),
            CODE,
        ),
        Element(
            "maintenance_unit_name",
            "维保单位名称 / maintenance unit",
            ("维保单位名称", "维保单位", "维护保养单位", "maintenance_unit", "maintenance_unit_name"),
        ),
        Element(
            "maintenance_unit_credit_code",
            "维保单位统一社会信用代码 / maintenance unit credit code",
            ("维保单位统一社会信用代码", "维保单位信用代码", "维保单位代码", "maintenance_unit_credit_code"),
            CODE,
        ),
        Element("manufactured_on", "制造日期 / manufactured", ("制造日期", "出厂日期", "manufactured_on"), DATE),
        Element(
            "commissioned_on",
            "投入使用日期 / commissioned",
            ("投入使用日期", "投用日期", "使用日期", "commissioned_on"),
            DATE,
        ),
        Element(
            "next_inspection_due",
            "下次检验日期 / next inspection due",
            ("下次检验日期", "下次检验日", "下检日期", "next_inspection_due"),
            DATE,
        ),
    ),
    Dataset.UNITS: (
        Element(
            "credit_code",
            "统一社会信用代码 / credit code",
            ("统一社会信用代码", "信用代码", "社会信用代码", "组织机构代码", "credit_code"),
            CODE,
        ),
        Element("name", "单位名称 / name", ("单位名称", "名称", "单位", "name"), required=True),
        Element("roles", "单位类别 / roles", ("单位类别", "单位类型", "角色", "roles", "role")),
        Element("address", "单位地址 / address", ("单位地址", "地址", "address")),
        *_LOCATION,
        Element("contact_name", "联系人 / contact", ("联系人", "负责人", "contact", "contact_name")),
        Element("contact_phone", "联系电话 / phone", ("联系电话", "电话", "手机", "phone", "contact_phone")),
    ),
    Dataset.PERSONS: (
        Element("name", "姓名 / name", ("姓名", "name"), required=True),
        Element("role", "人员类别 / role", ("人员类别", "人员类型", "类别", "role"), required=True),
        Element("national_id", "身份证号 / national ID", ("身份证号", "身份证号码", "证件号码", "national_id"), CODE),
        Element("employer_name", "工作单位 / employer", ("工作单位", "单位名称", "employer")),
        Element(
            "employer_credit_code",
            "工作单位统一社会信用代码 / employer credit code",
            ("工作单位统一社会信用代码", "单位信用代码", "employer_credit_code"),
            CODE,
        ),
        Element("division_code", "行政区划代码 / division code", ("行政区划代码", "区划代码", "division_code"), CODE, True),
        Element("phone", "电话 / phone", ("电话", "联系电话", "手机", "phone")),
        Element("certificate_kind", "证书类别 / certificate type", ("证书类别", "证书种类", "certificate_kind")),
        Element("certificate_number", "证书编号 / certificate number", ("证书编号", "证号", "certificate_number"), CODE),
        Element("item_code", "作业项目代号 / item code", ("作业项目代号", "作业项目", "项目代号", "item_code"), CODE),
        Element("issued_on", "发证日期 / issued", ("发证日期", "发证时间", "issued_on"), DATE),
        Element("expires_on", "有效期至 / expires", ("有效期至", "有效期", "到期日期", "expires_on"), DATE),
        Element("issuer", "发证机关 / issuer", ("发证机关", "发证单位", "issuer")),
    ),
    Dataset.INSPECTIONS: (
        *_DEVICE_KEYS,
        Element("inspected_on", "检验日期 / date", ("检验日期", "检验时间", "inspected_on"), DATE, True),
        Element("conclusion", "检验结论 / conclusion", ("检验结论", "结论", "conclusion"), required=True),
        Element("kind", "检验类别 / kind", ("检验类别", "检验性质", "检验类型", "kind")),
        Element("defects", "问题数 / defects", ("问题数", "问题数量", "缺陷数", "defects"), INTEGER),
        Element("defect_notes", "问题描述 / defect notes", ("问题描述", "主要问题", "defect_notes")),
        Element("report_number", "报告编号 / report number", ("报告编号", "检验报告编号", "report_number"), CODE),
        Element(
            "body_credit_code",
            "检验机构统一社会信用代码 / inspection body credit code",
            ("检验机构统一社会信用代码", "检验机构信用代码", "body_credit_code"),
            CODE,
        ),
    ),
    Dataset.ACCIDENTS: (
        Element("occurred_at", "发生时间 / time", ("发生时间", "事故时间", "发生日期", "occurred_at"), DATE, True),
        *_LOCATION,
        Element("address", "地点 / address", ("事故地点", "地点", "地址", "address")),
        Element("equipment_code", "设备代码或注册代码 / device or registration code", ("设备代码", "注册代码", "equipment_code"), CODE),
        Element("kind", "事故类型 / kind", ("事故类型", "事故类别", "事故种类", "kind"), TEXT, True),
        Element("severity", "事故等级 / severity", ("事故等级", "事故级别", "severity"), required=True),
        Element("deaths", "死亡人数 / deaths", ("死亡人数", "死亡", "deaths"), INTEGER),
        Element("injuries", "受伤人数 / injuries", ("受伤人数", "受伤", "injuries"), INTEGER),
        Element("direct_loss", "直接经济损失（万元）/ direct loss (10k yuan)", ("直接经济损失", "直接经济损失万元", "direct_loss"), NUMBER),
        Element("cause_class", "原因类别 / cause", ("原因类别", "事故原因类别", "cause_class")),
        Element("description", "事故经过 / description", ("事故经过", "事故简要经过", "描述", "description")),
    ),
}  # fmt: skip

_PUNCTUATION = re.compile(r"[\s_\-/\\·.:：()（）\[\]【】<>《》*#]+")


def header_key(header: str) -> str:
    """A column title folded for matching: full-width to half-width, lower case, no spaces or punctuation."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", str(header))).lower()


def elements_of(dataset: str) -> tuple[Element, ...]:
    from .datasets import REGISTERED  # filled in by upper apps' ready()

    if dataset in REGISTERED:
        return REGISTERED[dataset].elements
    return ELEMENTS[Dataset(dataset)]


def either_of(dataset: str) -> tuple[tuple[str, ...], ...]:
    """The groups of elements of which one must be mapped."""
    from .datasets import REGISTERED

    if dataset in REGISTERED:
        return REGISTERED[dataset].either
    return EITHER.get(dataset, ())


def element(dataset: str, name: str) -> Element | None:
    return next((item for item in elements_of(dataset) if item.name == name), None)
