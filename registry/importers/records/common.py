"""What the row-by-row importers share: the row, placement, matching, updates, the loop."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.measure import D
from django.db import models, transaction
from django.db.models import Q

from accounts import audit
from accounts.models import User
from geo import crs
from geo.scoping import prefix_of

from ...exceptions import RegistryError
from ...exchange import changelog
from ...models import Equipment, UnitRole
from ...models.equipment import InspectionConclusion, InspectionKind
from ...models.events import CauseClass, Severity
from ...models.units import PersonRole
from ...placement import Placement, place
from ...services.checks import ensure_in_jurisdiction
from ...validators import ERROR, Finding
from .. import cells
from ..elements import elements_of
from ..pipeline import ImportOutcome, ImportRequest, Progress, counted, finding_at
from ..readers import RowReader, SourceRow

NEW, CHANGED, UNCHANGED = "new", "changed", "unchanged"

GEOMETRY_COLUMN = "几何 / geometry"
# Two accidents at the same moment this close together are one accident reported twice.
SAME_PLACE = D(m=10)
# Stored points compared after conversion: 1e-7° is about a centimetre.
SAME_POINT_DEGREES = 1e-7

# A finding's field (as the services name it) → the data element whose column the report points at.
FIELD_ELEMENTS = {
    "location": "lon",
    "route": "lon",
    "declared_region_code": "division_code",
    "region": "division_code",
    "certificates": "certificate_number",
}


# --- enumerations: codes, Chinese labels and the short forms files use ---------------------------


def choice_key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", value)).lower()


def choice_table(enum: type[models.TextChoices], **aliases: tuple[str, ...]) -> dict[str, str]:
    """Every spelling of each choice: its code, both halves of its "中文 / English" label, aliases."""
    table: dict[str, str] = {}
    for value, label in enum.choices:
        for spelling in (value, *str(label).split(" / "), *aliases.get(value, ())):
            table[choice_key(spelling)] = value
    return table


UNIT_ROLES = choice_table(
    UnitRole,
    use=("使用",),
    manufacture=("制造", "制造商", "生产单位"),
    installation=("安装单位", "改造单位", "修理单位", "安装改造维修单位", "安装"),
    maintenance=("维保单位", "维保", "维修保养单位"),
    inspection=("检验机构", "检验检测机构", "检测机构", "检验"),
    supervision=("监管", "监管部门", "市场监管局"),
    filling=("充装",),
    rescue=("救援",),
)
PERSON_ROLES = choice_table(
    PersonRole,
    operator=("作业", "操作人员", "司机"),
    maintenance=("维保", "维修人员"),
    inspector=("检验员", "检验师", "检测人员"),
    supervisor=("监察员",),
    manager=("安全管理员", "安全员", "管理人员"),
)
CONCLUSIONS = choice_table(
    InspectionConclusion,
    conditional=("基本符合", "基本合格"),
    fail=("不符合要求", "不合格（整改）"),
)
CONCLUSIONS.update({choice_key("符合要求"): "pass", choice_key("合格/pass"): "pass"})
INSPECTION_KINDS = choice_table(
    InspectionKind,
    periodic=("定期", "定检", "定期检验"),
    supervisory=("监检", "监督"),
    acceptance=("验收",),
)
SEVERITIES = choice_table(
    Severity,
    ordinary=("一般",),
    large=("较大",),
    major=("重大",),
    extraordinary=("特别重大", "特大"),
)
CAUSES = choice_table(
    CauseClass,
    use_management=("使用管理不当", "管理原因", "违章作业"),
    defect=("设备缺陷原因", "设备原因"),
    safety_device=("安全附件", "安全附件失效原因", "安全保护装置失效"),
    other=("其它",),
)


def labels(enum: type[models.TextChoices]) -> str:
    return "、".join(f"{str(label).split(' / ')[0]}({value})" for value, label in enum.choices)


# --- one row --------------------------------------------------------------------------------------


class Row:
    """A source row seen through the mapping: element values parsed, problems collected as report lines."""

    def __init__(self, source: SourceRow, request: ImportRequest, outcome: ImportOutcome):
        self.source, self.request, self.outcome = source, request, outcome
        self.number = source.number
        self.failed = False
        self._parsed: dict[tuple[str, Callable], Any] = {}
        for item in elements_of(request.dataset):
            if item.required and item.name in request.mapping and self.blank(item.name):
                if item.name in ("lon", "lat") and source.geometry is not None:
                    continue
                self.add(
                    Finding(
                        item.name,
                        f"{item.name}.required",
                        f"{item.label} 必填 / {item.label} is required",
                        ERROR,
                    )
                )

    def raw(self, name: str) -> Any:
        column = self.request.mapping.get(name)
        return self.source.values.get(column) if column else None

    def mapped(self, name: str) -> bool:
        return bool(self.request.mapping.get(name))

    def blank(self, name: str) -> bool:
        return cells.text(self.raw(name)) == ""

    def get(self, name: str, parse: Callable[[Any], Any] = cells.text) -> Any:
        """The element's value, or None when unmapped, blank or unreadable (then reported)."""
        if not self.mapped(name):
            return None
        if (name, parse) in self._parsed:  # asked again: reported once
            return self._parsed[name, parse]
        try:
            value = parse(self.raw(name))
        except cells.CellError as error:
            self.add(Finding(name, error.rule, error.message, ERROR, error.suggestion))
            value = None
        value = self._parsed[name, parse] = None if value == "" else value
        return value

    def choice(
        self, name: str, table: dict[str, str], enum: type[models.TextChoices]
    ) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        found = table.get(choice_key(value))
        if found is None:
            self.add(
                Finding(
                    name,
                    f"{name}.unknown",
                    f"无法识别的取值 {value!r} / unknown value {value!r}",
                    ERROR,
                    suggestion=labels(enum),
                )
            )
        return found

    def column_of(self, field: str) -> str:
        element = FIELD_ELEMENTS.get(field.split("[")[0], field)
        column = self.request.mapping.get(element)
        if column:
            return column
        if element == "lon" and self.source.geometry is not None:
            return GEOMETRY_COLUMN
        # The county came from whichever of the two the row gave: point at the one it has.
        if element == "division_code":
            return self.column_of("location")
        if element == "lon" and self.request.mapping.get("division_code"):
            return self.request.mapping["division_code"]
        return self.request.mapping.get(field) or field

    def add(self, finding: Finding, *, element: str | None = None) -> None:
        """Report a finding; `element` names the data element when the finding's own field is
        the service's name for it (a person's employer_credit_code is a unit's credit_code)."""
        column = self.column_of(element or finding.field)
        if column == GEOMETRY_COLUMN:
            value = self.source.shape.wkt if self.source.shape is not None else ""
        elif element is None and FIELD_ELEMENTS.get(finding.field.split("[")[0]) == "lon":
            value = f"{cells.text(self.raw('lon'))}, {cells.text(self.raw('lat'))}"
        else:
            value = self.source.values.get(column, "")
        self.outcome.findings.append(finding_at(self.number, column, value, finding))
        self.failed = self.failed or finding.severity == ERROR

    def error(self, field: str, rule: str, message: str, suggestion: str = "") -> None:
        self.add(Finding(field, rule, message, ERROR, suggestion))

    def refused(self, error: RegistryError, element: str | None = None) -> None:
        for finding in error.findings:
            self.add(finding, element=element)

    def geometry(self) -> GEOSGeometry | tuple[float, float] | None:
        """The row's location as given: the layer's geometry, or the lon/lat cells."""
        srid = crs.srid_for(self.request.source_crs)
        if self.source.geometry is not None:
            shape = GEOSGeometry(memoryview(self.source.geometry), srid=srid)
            if shape.hasz:  # heights (GPS exports carry them) have no column to go to
                shape = GEOSGeometry(
                    memoryview(shapely.to_wkb(shapely.force_2d(self.source.shape))), srid=srid
                )
            if shape.geom_type != "Point":
                self.error(
                    "location",
                    "geometry.kind",
                    f"应为点，实为 {shape.geom_type} / a point is expected, not a {shape.geom_type}",
                )
                return None
            return shape
        lon, lat = self.get("lon", cells.number), self.get("lat", cells.number)
        if lon is None and lat is None:
            return None
        if lon is None or lat is None:
            self.error(
                "location",
                "location.incomplete",
                "经度和纬度须同时填写 / give both longitude and latitude",
            )
            return None
        return lon, lat

    def once(self, seen: dict[tuple, int], key: tuple, field: str, what: str) -> bool:
        """False (and reported) when an earlier row of the file holds the same record."""
        first = seen.setdefault(key, self.number)
        if first != self.number:
            self.error(
                field,
                "duplicate.in_file",
                f"与第 {first} 行是同一{what.split(' / ')[0]} / same {what.split(' / ')[1]} as row {first}",
            )
            return False
        return True


def allowed(row: Row, acting_user: User | None, region_code: str) -> bool:
    try:
        ensure_in_jurisdiction(acting_user, region_code)
    except RegistryError as error:
        row.refused(error)
        return False
    return True


def visible(record: models.Model, acting_user: User | None) -> bool:
    """Whether the user may see a record the row names (by its region): a record outside the
    jurisdiction is answered without any of its attributes, not with the jurisdiction refusal."""
    if acting_user is None:
        return True
    prefix = prefix_of(acting_user)
    return prefix is not None and record.region_id.startswith(prefix)


def place_row(
    row: Row, acting_user: User | None, fallback: GEOSGeometry | None = None
) -> Placement | None:
    """The row converted from the declared CRS and put in its county, inside the user's jurisdiction."""
    geometry = row.geometry()
    declared = row.get("division_code", cells.code) or ""
    if row.failed:
        return None
    source_crs = row.request.source_crs
    if geometry is None and fallback is not None:
        geometry, source_crs = fallback, crs.CRS.WGS84
        if geometry.geom_type != "Point":
            geometry = geometry.point_on_surface
    placement = place(
        geometry, source_crs=source_crs, declared_region_code=declared, field_name="location"
    )
    for finding in placement.findings:
        row.add(finding)
    if row.failed:
        return None
    if placement.region is None:
        row.error(
            "location",
            "location.required",
            "需要位置或行政区划代码 / give a location or a division code",
        )
        return None
    return placement if allowed(row, acting_user, placement.region.code) else None


def scoped(queryset: models.QuerySet, acting_user: User | None) -> models.QuerySet:
    # No acting user is a system process (a command run by the operator): the whole registry.
    return queryset.all() if acting_user is None else queryset.visible_to(acting_user)


def _same_point(a: GEOSGeometry | None, b: GEOSGeometry | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.equals_exact(b, SAME_POINT_DEGREES)


def differences(instance: models.Model, wanted: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for name, value in wanted.items():
        current = getattr(instance, name)
        if isinstance(value, GEOSGeometry):
            same = _same_point(current, value)
        elif isinstance(value, Decimal):
            same = current is not None and Decimal(current) == value
        else:
            same = current == value
        if not same:
            changed[name] = value
    return changed


def update_record(
    instance: models.Model,
    changes: dict[str, Any],
    *,
    acting_user: User | None,
    action: str,
    exchanged: bool = True,
    exclude: tuple[str, ...] = (),
    region_code: str = "",
) -> None:
    """Write the changed fields with before/after in the audit trail and, for exchanged records,
    an update in the change log. (A registry `update_*` service per model should own this.)"""
    before = audit.snapshot(instance, exclude=exclude)
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.save()
    if exchanged:
        changelog.record(instance, changelog.ChangeOperation.UPDATE)
    audit.record(
        acting_user,
        action,
        instance,
        before=before,
        after=audit.snapshot(instance, exclude=exclude),
        region_code=region_code,
    )


def run_dataset(
    rows: RowReader,
    request: ImportRequest,
    progress: Progress | None,
    write: Callable[[Row, dict[tuple, int]], str | None],
) -> ImportOutcome:
    outcome = ImportOutcome()
    seen: dict[tuple, int] = {}
    for source in counted(rows, progress):
        outcome.rows += 1
        row = Row(source, request, outcome)
        try:
            with transaction.atomic():
                result = None if row.failed else write(row, seen)
        except RegistryError as error:
            row.refused(error)
            continue
        if result is not None and not row.failed:
            setattr(outcome, result, getattr(outcome, result) + 1)
    return outcome


def named_equipment(row: Row, acting_user: User | None, *elements: str) -> Equipment | None:
    """The device the row names by device or registration code, among those the user may see."""
    for element in elements:
        code = row.get(element, cells.code)
        if not code:
            continue
        found = list(
            scoped(Equipment.objects, acting_user)
            .filter(Q(device_code=code) | Q(registration_code=code))
            .select_for_update()[:2]
        )
        if len(found) == 1:
            return found[0]
        row.error(
            element,
            "equipment.unknown" if not found else "equipment.ambiguous",
            f"辖区内{'没有' if not found else '有多台'}代码为 {code} 的设备 / "
            f"{'no' if not found else 'more than one'} device with code {code} in your jurisdiction",
            "先导入设备 / import the equipment first" if not found else "",
        )
        return None
    return None
