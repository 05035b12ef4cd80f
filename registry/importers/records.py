"""Units, personnel, inspections and accidents from a file, row by row through the registry services.

Each row is mapped to its data elements, parsed (cells.py), placed (placement.py) and written in a
savepoint of its own, so a refused row leaves nothing behind and the next row still runs: the report
then lists every problem in the file at once. Rows already in the database are matched (by credit
code, national ID, device and date…) and compared on the mapped fields: equal rows are counted as
unchanged, different ones updated with before/after in the audit trail, so importing the same file
twice changes nothing. A blank cell in a mapped column leaves the stored value alone: exports leave
cells blank for "not known", not for "erase".

`pipeline.run_import` owns the transaction: a dry run, or a commit with any error, rolls it back.
"""

from __future__ import annotations

import datetime as dt
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
from django.utils import timezone

from accounts import audit
from accounts.models import User
from geo import crs
from geo.models import Region

from .. import personal, services
from ..exceptions import RegistryError
from ..exchange import changelog
from ..intervals import RuleBook
from ..models import Accident, Certificate, Equipment, Inspection, Person, Unit, UnitRole
from ..models.equipment import InspectionConclusion, InspectionKind
from ..models.events import CauseClass, Severity
from ..models.units import PersonRole
from ..placement import Placement, place
from ..services._common import _ensure_in_jurisdiction
from ..validators import ERROR, WARNING, Finding, check_credit_code
from . import cells
from .elements import elements_of
from .pipeline import ImportOutcome, ImportRequest, Progress, counted, finding_at
from .readers import RowReader, SourceRow

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


def _key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", value)).lower()


def _choices(enum: type[models.TextChoices], **aliases: tuple[str, ...]) -> dict[str, str]:
    """Every spelling of each choice: its code, both halves of its "中文 / English" label, aliases."""
    table: dict[str, str] = {}
    for value, label in enum.choices:
        for spelling in (value, *str(label).split(" / "), *aliases.get(value, ())):
            table[_key(spelling)] = value
    return table


UNIT_ROLES = _choices(
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
PERSON_ROLES = _choices(
    PersonRole,
    operator=("作业", "操作人员", "司机"),
    maintenance=("维保", "维修人员"),
    inspector=("检验员", "检验师", "检测人员"),
    supervisor=("监察员",),
    manager=("安全管理员", "安全员", "管理人员"),
)
CONCLUSIONS = _choices(
    InspectionConclusion,
    conditional=("基本符合", "基本合格"),
    fail=("不符合要求", "不合格（整改）"),
)
CONCLUSIONS.update({_key("符合要求"): "pass", _key("合格/pass"): "pass"})
INSPECTION_KINDS = _choices(
    InspectionKind,
    periodic=("定期", "定检", "定期检验"),
    supervisory=("监检", "监督"),
    acceptance=("验收",),
)
SEVERITIES = _choices(
    Severity,
    ordinary=("一般",),
    large=("较大",),
    major=("重大",),
    extraordinary=("特别重大", "特大"),
)
CAUSES = _choices(
    CauseClass,
    use_management=("使用管理不当", "管理原因", "违章作业"),
    defect=("设备缺陷原因", "设备原因"),
    safety_device=("安全附件", "安全附件失效原因", "安全保护装置失效"),
    other=("其它",),
)


def _labels(enum: type[models.TextChoices]) -> str:
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
        found = table.get(_key(value))
        if found is None:
            self.add(
                Finding(
                    name,
                    f"{name}.unknown",
                    f"无法识别的取值 {value!r} / unknown value {value!r}",
                    ERROR,
                    suggestion=_labels(enum),
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


def _allowed(row: Row, acting_user: User | None, region_code: str) -> bool:
    try:
        _ensure_in_jurisdiction(acting_user, region_code)
    except RegistryError as error:
        row.refused(error)
        return False
    return True


def _place(
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
    return placement if _allowed(row, acting_user, placement.region.code) else None


def _scoped(queryset: models.QuerySet, acting_user: User | None) -> models.QuerySet:
    # No acting user is a system process (a command run by the operator): the whole registry.
    return queryset.all() if acting_user is None else queryset.visible_to(acting_user)


def _same_point(a: GEOSGeometry | None, b: GEOSGeometry | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.equals_exact(b, SAME_POINT_DEGREES)


def _differences(instance: models.Model, wanted: dict[str, Any]) -> dict[str, Any]:
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


def _update(
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


def _run(
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


# --- units ----------------------------------------------------------------------------------------


def import_units(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """Organisations: matched by credit code, else by name in the same county."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        credit_code = row.get("credit_code", cells.code)
        name = row.get("name")
        roles = _roles(row)
        if credit_code:
            for finding in check_credit_code(credit_code):
                row.add(finding)
        placement = _place(row, acting_user)
        if row.failed or placement is None:
            return None
        key = ("credit_code", credit_code) if credit_code else ("name", name, placement.region.code)
        if not row.once(seen, key, "credit_code" if credit_code else "name", "单位 / unit"):
            return None
        wanted: dict[str, Any] = {
            element: value
            for element in ("name", "address", "contact_name", "contact_phone")
            if (value := row.get(element)) is not None
        }
        if roles:
            wanted["roles"] = roles
        if credit_code:
            wanted["credit_code"] = credit_code
        if placement.geometry is not None:
            wanted["location"] = placement.geometry
        wanted["region_id"] = placement.region.code
        unit = _find_unit(credit_code, name, placement.region.code)
        if unit is None and credit_code:
            _warn_namesake(row, name, placement.region.code)
        if unit is None:
            services.register_unit(
                acting_user=acting_user,
                name=name,
                roles=roles or [UnitRole.USE],
                credit_code=credit_code or "",
                address=wanted.get("address", ""),
                location=placement.geometry,
                region_code=row.get("division_code", cells.code) or "",
                contact_name=wanted.get("contact_name", ""),
                contact_phone=wanted.get("contact_phone", ""),
            )
            return NEW
        if not _allowed(row, acting_user, unit.region_id):
            return None
        changes = _differences(unit, wanted)
        if not changes:
            return UNCHANGED
        _update(unit, changes, acting_user=acting_user, action="unit.updated")
        return CHANGED

    return _run(rows, request, progress, write)


def _roles(row: Row) -> list[str] | None:
    """Roles as a list of codes; a file without the column registers use units."""
    value = row.get("roles")
    if value is None:
        return None
    roles = []
    for part in re.split(r"[,，;；、/|\s]+", value):
        if not part:
            continue
        found = UNIT_ROLES.get(_key(part))
        if found is None:
            row.error(
                "roles",
                "roles.unknown",
                f"无法识别的单位类别 {part!r} / unknown unit role {part!r}",
                _labels(UnitRole),
            )
        elif found not in roles:
            roles.append(found)
    return roles


def _warn_namesake(row: Row, name: str, region_code: str) -> None:
    """A unit of the same name in the same county under another code is most likely this one
    with a mistyped code: registered anyway (branches share names), but the user is told."""
    other = (
        Unit.objects.filter(name=name, region_id=region_code, credit_code__isnull=False)
        .values_list("credit_code", flat=True)
        .first()
    )
    if other:
        row.add(
            Finding(
                "credit_code",
                "unit.namesake",
                f"本县已有同名单位，信用代码为 {other} / a unit of this name in this county has "
                f"credit code {other}",
                WARNING,
                suggestion=other,
            )
        )


def _find_unit(credit_code: str | None, name: str, region_code: str) -> Unit | None:
    units = Unit.objects.select_for_update()
    if credit_code:
        unit = units.filter(credit_code=credit_code).first()
        if unit is not None:
            return unit
        # The same name in the same county without a code is the unit this row now gives a code to.
        units = units.filter(Q(credit_code__isnull=True) | Q(credit_code=""))
    return units.filter(name=name, region_id=region_code).order_by("pk").first()


# --- personnel ------------------------------------------------------------------------------------


def import_persons(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """People and their certificates: matched by national ID, else by name, employer and certificate."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        name = row.get("name")
        role = row.choice("role", PERSON_ROLES, PersonRole)
        national_id = row.get("national_id", cells.code) or ""
        region_code = row.get("division_code", cells.code) or ""
        employer = _employer(row, acting_user)
        certificate = _certificate(row)
        if region_code and not Region.objects.filter(code=region_code).exists():
            row.error(
                "division_code",
                "region.unknown",
                f"未知的行政区划代码 / unknown division code {region_code}",
            )
        if row.failed or not _allowed(row, acting_user, region_code):
            return None
        id_hash = personal.lookup_hash(national_id)
        if national_id and not row.once(seen, ("id", id_hash), "national_id", "人 / person"):
            return None
        number = certificate["number"] if certificate else ""
        if number and not row.once(
            seen, ("certificate", number), "certificate_number", "证书 / certificate"
        ):
            return None
        person = _find_person(id_hash, name, employer, number, region_code)
        holders = Certificate.objects.filter(number=number).exclude(person=person)
        if number and holders.exists():
            row.error(
                "certificate_number",
                "certificate.duplicate",
                f"证书编号 {number} 已属于另一人 / certificate {number} belongs to someone else",
            )
            return None
        if person is None:
            services.register_person(
                acting_user=acting_user,
                name=name,
                role=role,
                region_code=region_code,
                employer=employer,
                national_id=national_id,
                phone=row.get("phone") or "",
                certificates=[certificate] if certificate else [],
            )
            return NEW
        if not _allowed(row, acting_user, person.region_id):
            return None
        wanted: dict[str, Any] = {"name": name, "role": role, "region_id": region_code}
        if row.get("phone") is not None:
            wanted["phone"] = row.get("phone")
        if employer is not None:
            wanted["employer"] = employer
        result = UNCHANGED
        changes = _differences(person, wanted)
        if changes:
            _update(
                person,
                changes,
                acting_user=acting_user,
                action="person.updated",
                exchanged=False,  # persons stay in the province (their ID is encrypted here)
                exclude=("national_id_encrypted", "national_id_hash"),
            )
            result = CHANGED
        if certificate and _save_certificate(person, certificate, acting_user):
            result = CHANGED
        return result

    return _run(rows, request, progress, write)


def _employer(row: Row, acting_user: User | None) -> Unit | None:
    credit_code = row.get("employer_credit_code", cells.code)
    if credit_code:
        for finding in check_credit_code(credit_code):
            row.add(finding, element="employer_credit_code")
        unit = Unit.objects.filter(credit_code=credit_code).first()
        if unit is None and not row.failed:
            row.error(
                "employer_credit_code",
                "employer.unknown",
                f"未登记的工作单位 {credit_code} / no unit is registered with credit code {credit_code}",
                "先导入单位 / import the units first",
            )
        return unit
    name = row.get("employer_name")
    if name is None:
        return None
    found = list(_scoped(Unit.objects, acting_user).filter(name=name)[:2])
    if len(found) != 1:
        row.error(
            "employer_name",
            "employer.unknown" if not found else "employer.ambiguous",
            f"辖区内{'没有' if not found else '有多个'}名为 {name} 的单位 / "
            f"{'no' if not found else 'more than one'} unit named {name} in your jurisdiction",
            "填写工作单位统一社会信用代码 / give the employer's credit code",
        )
        return None
    return found[0]


def _certificate(row: Row) -> dict[str, Any] | None:
    number = row.get("certificate_number", cells.code)
    issued_on, expires_on = row.get("issued_on", cells.date), row.get("expires_on", cells.date)
    if number is None:
        return None
    for name, value in (("issued_on", issued_on), ("expires_on", expires_on)):
        if value is None and not row.failed:
            row.error(
                name,
                f"{name}.required",
                "有证书编号时须填发证日期和有效期 / a certificate needs its issue and expiry dates",
            )
    if issued_on and expires_on and expires_on < issued_on:
        row.error("expires_on", "certificate.dates", "有效期早于发证日期 / expires before issued")
    certificate = {"number": number, "issued_on": issued_on, "expires_on": expires_on}
    for name, element in (
        ("kind", "certificate_kind"),
        ("item_code", "item_code"),
        ("issuer", "issuer"),
    ):
        value = row.get(element, cells.code if name == "item_code" else cells.text)
        if value is not None:
            certificate[name] = value
    return certificate


def _find_person(
    id_hash: str, name: str, employer: Unit | None, number: str, region_code: str
) -> Person | None:
    people = Person.objects.select_for_update()
    if id_hash:
        return people.filter(national_id_hash=id_hash).first()
    people = people.filter(name=name, employer=employer)
    if number:
        return people.filter(certificates__number=number).first()
    return people.filter(region_id=region_code).order_by("pk").first()


def _save_certificate(person: Person, wanted: dict[str, Any], acting_user: User | None) -> bool:
    """Add or correct the person's certificate; True when anything was written."""
    certificate = person.certificates.filter(number=wanted["number"]).first()
    if certificate is None:
        certificate = Certificate.objects.create(person=person, **wanted)
        audit.record(acting_user, "certificate.added", certificate, region_code=person.region_id)
        return True
    changes = _differences(certificate, wanted)
    if changes:
        _update(
            certificate,
            changes,
            acting_user=acting_user,
            action="certificate.updated",
            exchanged=False,
            region_code=person.region_id,
        )
    return bool(changes)


# --- inspections ----------------------------------------------------------------------------------


def import_inspections(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """Inspection records of registered devices: matched by device, date and report number (or kind)."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        inspected_on = row.get("inspected_on", cells.date)
        conclusion = row.choice("conclusion", CONCLUSIONS, InspectionConclusion)
        kind = row.choice("kind", INSPECTION_KINDS, InspectionKind) or InspectionKind.PERIODIC
        defects = row.get("defects", cells.integer)
        notes = row.get("defect_notes")
        report_number = row.get("report_number", cells.code) or ""
        body = _body(row)
        equipment = _equipment(row, acting_user, "device_code", "registration_code")
        if row.failed or equipment is None:
            return None
        key = ("inspection", equipment.pk, inspected_on, report_number or kind)
        if not row.once(seen, key, "inspected_on", "次检验 / inspection"):
            return None
        existing = (
            Inspection.objects.select_for_update()
            .filter(equipment=equipment, inspected_on=inspected_on)
            .filter(Q(report_number=report_number) if report_number else Q(kind=kind))
            .first()
        )
        if existing is None:
            services.record_inspection(
                equipment,
                acting_user=acting_user,
                conclusion=conclusion,
                inspected_on=inspected_on,
                kind=kind,
                body=body,
                defects=defects or 0,
                defect_notes=notes or "",
                report_number=report_number,
            )
            return NEW
        wanted: dict[str, Any] = {"conclusion": conclusion, "kind": kind}
        for name, value in (("defects", defects), ("defect_notes", notes), ("body", body)):
            if value is not None:
                wanted[name] = value
        changes = _differences(existing, wanted)
        if not changes:
            return UNCHANGED
        _correct_inspection(existing, changes, acting_user)
        return CHANGED

    return _run(rows, request, progress, write)


def _equipment(row: Row, acting_user: User | None, *elements: str) -> Equipment | None:
    """The device the row names by device or registration code, among those the user may see."""
    for element in elements:
        code = row.get(element, cells.code)
        if not code:
            continue
        found = list(
            _scoped(Equipment.objects, acting_user)
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


def _body(row: Row) -> Unit | None:
    credit_code = row.get("body_credit_code", cells.code)
    if not credit_code:
        return None
    for finding in check_credit_code(credit_code):
        row.add(finding, element="body_credit_code")
    body = Unit.objects.filter(credit_code=credit_code).first()
    if body is None and not row.failed:
        row.error(
            "body_credit_code",
            "body.unknown",
            f"未登记的检验机构 {credit_code} / no unit is registered with credit code {credit_code}",
            "先导入检验机构 / import the inspection body as a unit first",
        )
    return body


def _correct_inspection(
    inspection: Inspection, changes: dict[str, Any], acting_user: User | None
) -> None:
    """A corrected record: a new conclusion or kind moves its next due date, and the device's when
    it is the latest inspection. (A `correct_inspection` service should own this.)"""
    equipment = inspection.equipment
    if {"conclusion", "kind"} & changes.keys():
        kind = changes.get("kind", inspection.kind)
        first = (
            kind != InspectionKind.PERIODIC
            and not equipment.inspections.filter(kind=InspectionKind.PERIODIC)
            .exclude(pk=inspection.pk)
            .exists()
        )
        changes["next_due"] = RuleBook.from_database().next_due(
            equipment.variety_id,
            equipment.params,
            changes.get("conclusion", inspection.conclusion),
            inspection.inspected_on,
            first=first,
        )
    _update(
        inspection,
        changes,
        acting_user=acting_user,
        action="inspection.corrected",
        region_code=equipment.region_id,
    )
    latest = equipment.inspections.order_by("-inspected_on", "-id").first()
    if latest.pk == inspection.pk and equipment.next_inspection_due != inspection.next_due:
        _update(
            equipment,
            {"next_inspection_due": inspection.next_due},
            acting_user=acting_user,
            action="equipment.due_moved",
        )


# --- accidents ------------------------------------------------------------------------------------

_TIME = re.compile(r"(\d{1,2})[:：时点](\d{1,2})(?:[:：分](\d{1,2}))?")


def moment(value: Any) -> dt.datetime | None:
    """A time of day with its date: datetimes, ISO text (with or without an offset), "2024/3/5 9:05",
    "2024年3月5日14时30分", Excel serials with a fraction; a bare date is midnight. Times without
    an offset are local (TIME_ZONE)."""
    if isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        try:
            found = dt.datetime.fromisoformat(text)
        except ValueError:
            found = _moment_text(text, value)
        if found is None:
            return None
    else:
        day = cells.date(value)
        if day is None:
            return None
        found = dt.datetime.combine(day, dt.time())
        if isinstance(value, float) and not value.is_integer():
            found += dt.timedelta(seconds=round(value % 1 * 86400))
    return found if timezone.is_aware(found) else timezone.make_aware(found)


def _moment_text(text: str, value: str) -> dt.datetime | None:
    match = _TIME.search(text, 8)  # past the year and month, whose digits are no time
    day = cells.date(text[: match.start()].strip() if match else text)
    if day is None:
        return None
    if not match:
        return dt.datetime.combine(day, dt.time())
    try:
        return dt.datetime.combine(day, dt.time(*(int(part or 0) for part in match.groups())))
    except ValueError as error:
        raise cells.CellError(
            "cell.time", f"无法识别的时间 {value!r} / not a time: {value!r}", "YYYY-MM-DD HH:MM"
        ) from error


def import_accidents(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """Accidents: matched by time and device, or by time and a place within 10 m."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        occurred_at = row.get("occurred_at", moment)
        equipment = _equipment(row, acting_user, "equipment_code")
        wanted: dict[str, Any] = {
            "kind": row.get("kind"),
            "severity": row.choice("severity", SEVERITIES, Severity),
            "cause_class": row.choice("cause_class", CAUSES, CauseClass),
            "address": row.get("address"),
            "description": row.get("description"),
            "deaths": row.get("deaths", cells.integer),
            "injuries": row.get("injuries", cells.integer),
            "direct_loss": row.get("direct_loss", cells.number),
        }
        for name in ("deaths", "injuries", "direct_loss"):
            if wanted[name] is not None and wanted[name] < 0:
                row.error(name, f"{name}.negative", f"{name} 不能为负 / cannot be negative")
        fallback = None
        if equipment is not None:
            fallback = equipment.location or equipment.route
        placement = _place(row, acting_user, fallback)
        if row.failed or placement is None:
            return None
        if wanted["direct_loss"] is not None:
            wanted["direct_loss"] = Decimal(str(wanted["direct_loss"])).quantize(Decimal("0.01"))
        wanted = {name: value for name, value in wanted.items() if value is not None}
        point = placement.geometry
        key = ("accident", occurred_at, equipment.pk if equipment else None)
        if point is not None and equipment is None:
            key = ("accident", occurred_at, round(point.x, 4), round(point.y, 4))
        if not row.once(seen, key, "occurred_at", "起事故 / accident"):
            return None
        existing = _find_accident(occurred_at, equipment, point)
        if existing is None:
            services.record_accident(
                acting_user=acting_user,
                occurred_at=occurred_at,
                location=point,
                declared_region_code=placement.region.code if point is None else "",
                equipment=equipment,
                **wanted,
            )
            return NEW
        if not _allowed(row, acting_user, existing.region_id):
            return None
        if equipment is not None:
            wanted["equipment"] = equipment
        if point is not None:
            wanted["location"] = point
        wanted["region_id"] = placement.region.code
        changes = _differences(existing, wanted)
        if not changes:
            return UNCHANGED
        _update(existing, changes, acting_user=acting_user, action="accident.updated")
        return CHANGED

    return _run(rows, request, progress, write)


def _find_accident(
    occurred_at: dt.datetime, equipment: Equipment | None, point: GEOSGeometry | None
) -> Accident | None:
    accidents = Accident.objects.select_for_update().filter(occurred_at=occurred_at)
    if equipment is not None:
        found = accidents.filter(equipment=equipment).first()
        if found is not None or point is None:
            return found
    if point is None:
        return None
    return accidents.filter(location__distance_lte=(point, SAME_PLACE)).order_by("pk").first()


__all__ = ["import_accidents", "import_inspections", "import_persons", "import_units", "moment"]
