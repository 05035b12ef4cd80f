"""Every write to the registry: validated, placed in its county, atomic and audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, MultiLineString
from django.db import transaction

from accounts import audit
from accounts.models import User
from geo import crs

from . import catalogue, personal
from .exceptions import RegistryError
from .intervals import RuleBook
from .models import (
    Accident,
    Certificate,
    EmergencyResource,
    Equipment,
    EquipmentStatus,
    Inspection,
    LifecycleEvent,
    Person,
    Unit,
    Variety,
)
from .models.equipment import PIPELINE_KIND, InspectionKind, LifecycleEventKind
from .placement import Placement, place
from .validators import (
    Finding,
    check_certificate_matches_variety,
    check_certificate_number,
    check_credit_code,
    check_device_code,
    check_registration_code,
    check_rescue_id,
    normalise_certificate_number,
)

Geometry = GEOSGeometry | tuple[float, float] | None


def _raise_on_errors(findings: Iterable[Finding]) -> list[Finding]:
    findings = list(findings)
    if any(f.severity == "error" for f in findings):
        raise RegistryError(findings)
    return [f for f in findings if f.severity != "error"]


def _ensure_in_jurisdiction(acting_user: User | None, region_code: str) -> None:
    """A user writes only inside their own jurisdiction (None: a system process such as the demo loader)."""
    if acting_user is None:
        return
    # An anonymous user has no jurisdiction at all: refused like a user without an agency.
    prefix = getattr(acting_user, "jurisdiction_prefix", None)
    if prefix is None or not region_code.startswith(prefix):
        raise RegistryError(
            [
                Finding(
                    "region",
                    "jurisdiction",
                    f"区划 {region_code} 不在您的辖区内 / outside your jurisdiction",
                    "error",
                )
            ]
        )


def _placed(
    geometry: Geometry, source_crs: crs.CRS | str, declared_region_code: str, field_name: str
) -> Placement:
    placement = place(
        geometry,
        source_crs=crs.CRS.parse(source_crs),
        declared_region_code=declared_region_code,
        field_name=field_name,
    )
    _raise_on_errors(placement.findings)
    if placement.region is None:
        raise RegistryError(
            [
                Finding(
                    field_name,
                    "location.required",
                    "需要位置或行政区划代码 / give a location or a division code",
                    "error",
                )
            ]
        )
    return placement


def register_unit(
    *,
    acting_user: User | None,
    name: str,
    roles: Sequence[str],
    credit_code: str = "",
    address: str = "",
    location: Geometry = None,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    region_code: str = "",
    contact_name: str = "",
    contact_phone: str = "",
) -> Unit:
    """Register an organisation; its credit code must carry the right check character."""
    credit_code = credit_code.strip().upper()
    findings = check_credit_code(credit_code) if credit_code else []
    if not name.strip():
        findings.append(
            Finding("name", "name.required", "单位名称必填 / name is required", "error")
        )
    if not roles:
        findings.append(
            Finding("roles", "roles.required", "至少一个角色 / at least one role", "error")
        )
    _raise_on_errors(findings)
    placement = _placed(location, source_crs, region_code, "location")
    _ensure_in_jurisdiction(acting_user, placement.region.code)
    with transaction.atomic():
        if credit_code and Unit.objects.filter(credit_code=credit_code).exists():
            raise RegistryError(
                [
                    Finding(
                        "credit_code",
                        "credit_code.duplicate",
                        "信用代码已登记 / credit code already registered",
                        "error",
                    )
                ]
            )
        unit = Unit.objects.create(
            credit_code=credit_code or None,
            name=name.strip(),
            roles=list(roles),
            address=address,
            location=placement.geometry,
            region=placement.region,
            contact_name=contact_name,
            contact_phone=contact_phone,
        )
        audit.record(acting_user, "unit.registered", unit)
    return unit


def _check_identifiers(
    variety_code: str,
    requested_variety_code: str,
    device_code: str,
    registration_code: str,
    certificate_number: str,
    rescue_id: str,
) -> list[Finding]:
    findings: list[Finding] = []
    if not device_code and not registration_code:
        findings.append(
            Finding(
                "device_code",
                "device_code.required",
                "设备代码或注册代码至少一个 / give a device code or a registration code",
                "error",
            )
        )
    if device_code:
        findings += check_device_code(device_code)
        # A legacy device code may start with the retired code the caller gave.
        if device_code[:4] not in (variety_code, requested_variety_code):
            findings.append(
                Finding(
                    "device_code",
                    "device_code.variety_mismatch",
                    f"设备代码前4位 {device_code[:4]} 与设备品种不一致 / "
                    f"the device code starts with {device_code[:4]}, the variety is {variety_code}",
                    "warning",
                )
            )
    if registration_code:
        findings += check_registration_code(registration_code)
    if certificate_number:
        findings += check_certificate_number(certificate_number)
        findings += check_certificate_matches_variety(certificate_number, variety_code)
    if rescue_id:
        findings += check_rescue_id(rescue_id)
    return findings


def _resolve_variety(variety_code: str) -> tuple[Variety, list[Finding]]:
    try:
        entry, finding = catalogue.resolve(variety_code.strip().upper())
    except catalogue.UnknownCode as error:
        raise RegistryError([error.finding]) from error
    findings = [finding] if finding else []
    variety = Variety.objects.get(code=entry.code)
    if not variety.registrable or not catalogue.is_leaf(variety.code):
        findings.append(
            Finding(
                "variety",
                "variety.not_registrable",
                f"{variety} 不是可登记的设备品种 / not a use-registered variety (give the most specific code)",
                "error",
            )
        )
    return variety, _raise_on_errors(findings)


@transaction.atomic
def register_equipment(
    *,
    acting_user: User | None,
    variety_code: str,
    use_unit: Unit,
    location: Geometry = None,
    route: GEOSGeometry | None = None,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    declared_region_code: str = "",
    address: str = "",
    device_code: str = "",
    registration_code: str = "",
    certificate_number: str = "",
    rescue_id: str = "",
    maintenance_unit: Unit | None = None,
    manufacturer: Unit | None = None,
    installer: Unit | None = None,
    manufactured_on: dt.date | None = None,
    commissioned_on: dt.date | None = None,
    registered_on: dt.date | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Equipment, list[Finding]]:
    """Register a device for use: validate its codes, place it, record the registration event.

    Returns the device and the warnings it was accepted with (legacy codes, division mismatch).
    """
    device_code = device_code.strip().upper()
    registration_code = registration_code.strip()
    certificate_number = (
        normalise_certificate_number(certificate_number) if certificate_number else ""
    )
    variety, warnings = _resolve_variety(variety_code)
    warnings += _raise_on_errors(
        _check_identifiers(
            variety.code,
            variety_code.strip().upper(),
            device_code,
            registration_code,
            certificate_number,
            rescue_id.strip(),
        )
    )
    is_pipeline = variety.kind_code == PIPELINE_KIND
    if is_pipeline and location is not None:
        raise RegistryError(
            [
                Finding(
                    "location",
                    "geometry.kind",
                    "压力管道以管线表示 / a pipeline needs a route, not a point",
                    "error",
                )
            ]
        )
    if not is_pipeline and route is not None:
        raise RegistryError(
            [
                Finding(
                    "route",
                    "geometry.kind",
                    "只有压力管道有走向 / only pipelines have a route",
                    "error",
                )
            ]
        )
    placement = _placed(
        route if is_pipeline else location,
        source_crs,
        declared_region_code,
        "route" if is_pipeline else "location",
    )
    warnings += placement.findings
    _ensure_in_jurisdiction(acting_user, placement.region.code)
    if device_code and Equipment.objects.filter(device_code=device_code).exists():
        raise RegistryError(
            [
                Finding(
                    "device_code",
                    "device_code.duplicate",
                    "设备代码已登记 / device code already registered",
                    "error",
                )
            ]
        )
    geometry = placement.geometry
    if is_pipeline and geometry is not None and geometry.geom_type == "LineString":
        geometry = MultiLineString(geometry, srid=geometry.srid)
    equipment = Equipment.objects.create(
        device_code=device_code or None,
        registration_code=registration_code,
        certificate_number=certificate_number,
        rescue_id=rescue_id.strip(),
        variety=variety,
        kind=variety.kind_code,
        location=None if is_pipeline else geometry,
        route=geometry if is_pipeline else None,
        source_crs=crs.CRS.parse(source_crs).value,
        address=address,
        region=placement.region,
        declared_region_code=declared_region_code,
        region_mismatch=placement.region_mismatch,
        use_unit=use_unit,
        maintenance_unit=maintenance_unit,
        manufacturer=manufacturer,
        installer=installer,
        manufactured_on=manufactured_on,
        commissioned_on=commissioned_on,
        params=params or {},
        # Newly registered equipment awaits its first inspection from the commissioning date.
        next_inspection_due=_first_due(variety.code, params or {}, commissioned_on),
    )
    LifecycleEvent.objects.create(
        equipment=equipment,
        kind=LifecycleEventKind.REGISTRATION,
        occurred_on=registered_on or commissioned_on or dt.date.today(),
        unit=use_unit,
        details={"certificate_number": certificate_number},
    )
    audit.record(acting_user, "equipment.registered", equipment)
    return equipment, warnings


def _first_due(
    variety_code: str, params: dict[str, Any], commissioned_on: dt.date | None
) -> dt.date | None:
    if commissioned_on is None:
        return None
    return RuleBook.from_database().next_due(
        variety_code, params, "pass", commissioned_on, first=True
    )


# Fields a user may change through update_equipment; codes and the variety change by their own procedures.
EDITABLE_EQUIPMENT_FIELDS = frozenset(
    {
        "address",
        "maintenance_unit",
        "params",
        "certificate_number",
        "rescue_id",
        "manufactured_on",
        "commissioned_on",
    }
)


@transaction.atomic
def update_equipment(
    equipment: Equipment, *, acting_user: User | None, **changes: Any
) -> Equipment:
    """Change descriptive fields of a device, with before/after in the audit trail."""
    unknown = (
        set(changes)
        - EDITABLE_EQUIPMENT_FIELDS
        - {"location", "source_crs", "declared_region_code"}
    )
    if unknown:
        raise RegistryError(
            [
                Finding(
                    name,
                    "field.not_editable",
                    f"字段不可修改 / {name} cannot be changed here",
                    "error",
                )
                for name in sorted(unknown)
            ]
        )
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    _ensure_in_jurisdiction(acting_user, equipment.region_id)
    before = audit.snapshot(equipment)
    if "certificate_number" in changes and changes["certificate_number"]:
        changes["certificate_number"] = normalise_certificate_number(changes["certificate_number"])
        _raise_on_errors(check_certificate_number(changes["certificate_number"]))
    if "rescue_id" in changes and changes["rescue_id"]:
        _raise_on_errors(check_rescue_id(changes["rescue_id"]))
    if "location" in changes:
        source_crs = crs.CRS.parse(changes.pop("source_crs", crs.CRS.WGS84))
        placement = _placed(
            changes.pop("location"), source_crs, changes.pop("declared_region_code", ""), "location"
        )
        equipment.source_crs = source_crs.value
        # Moving a device out of the jurisdiction is a transfer, which the receiving agency registers.
        _ensure_in_jurisdiction(acting_user, placement.region.code)
        equipment.location, equipment.region, equipment.region_mismatch = (
            placement.geometry,
            placement.region,
            placement.region_mismatch,
        )
    for name, value in changes.items():
        setattr(equipment, name, value)
    equipment.save()
    audit.record(acting_user, "equipment.updated", equipment, before=before)
    return equipment


STATUS_EVENTS = {
    EquipmentStatus.SUSPENDED: LifecycleEventKind.SUSPENSION,
    EquipmentStatus.IN_USE: LifecycleEventKind.RESUMPTION,
    EquipmentStatus.CANCELLED: LifecycleEventKind.CANCELLATION,
    EquipmentStatus.SCRAPPED: LifecycleEventKind.CANCELLATION,
}
ALLOWED_STATUS_CHANGES = {
    EquipmentStatus.IN_USE: {
        EquipmentStatus.SUSPENDED,
        EquipmentStatus.CANCELLED,
        EquipmentStatus.SCRAPPED,
    },
    EquipmentStatus.SUSPENDED: {
        EquipmentStatus.IN_USE,
        EquipmentStatus.CANCELLED,
        EquipmentStatus.SCRAPPED,
    },
    EquipmentStatus.CANCELLED: set(),
    EquipmentStatus.SCRAPPED: set(),
}


@transaction.atomic
def change_equipment_status(
    equipment: Equipment,
    status: str,
    *,
    acting_user: User | None,
    on: dt.date | None = None,
    reason: str = "",
) -> Equipment:
    """Suspend, resume, cancel or scrap a device; cancelled and scrapped are final."""
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    _ensure_in_jurisdiction(acting_user, equipment.region_id)
    if status not in ALLOWED_STATUS_CHANGES.get(equipment.status, set()):
        raise RegistryError(
            [
                Finding(
                    "status",
                    "status.transition",
                    f"不能从 {equipment.status} 变为 {status} / status change not allowed",
                    "error",
                )
            ]
        )
    before = audit.snapshot(equipment)
    equipment.status = status
    equipment.save(update_fields=["status", "updated_at"])
    LifecycleEvent.objects.create(
        equipment=equipment,
        kind=STATUS_EVENTS[status],
        occurred_on=on or dt.date.today(),
        details={"status": status, "reason": reason},
    )
    audit.record(acting_user, "equipment.status_changed", equipment, before=before)
    return equipment


@transaction.atomic
def record_lifecycle_event(
    equipment: Equipment,
    kind: str,
    *,
    acting_user: User | None,
    occurred_on: dt.date,
    unit: Unit | None = None,
    details: dict | None = None,
) -> LifecycleEvent:
    """Append a step (installation, modification, major repair, change of use unit…) to a device's history."""
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    _ensure_in_jurisdiction(acting_user, equipment.region_id)
    if kind not in LifecycleEventKind.values:
        raise RegistryError(
            [Finding("kind", "event.kind", f"未知事件类型 / unknown event kind {kind!r}", "error")]
        )
    if kind == LifecycleEventKind.CHANGE_OF_USE_UNIT:
        if unit is None:
            raise RegistryError(
                [
                    Finding(
                        "unit",
                        "unit.required",
                        "变更使用单位需指定新单位 / give the new use unit",
                        "error",
                    )
                ]
            )
        if "use" not in unit.roles:
            raise RegistryError(
                [
                    Finding(
                        "unit",
                        "unit.role",
                        "新单位不是使用单位 / the new unit has no use-unit role",
                        "error",
                    )
                ]
            )
        _ensure_in_jurisdiction(acting_user, unit.region_id)
        before = audit.snapshot(equipment)
        equipment.use_unit = unit
        equipment.save(update_fields=["use_unit", "updated_at"])
        audit.record(acting_user, "equipment.use_unit_changed", equipment, before=before)
    event = LifecycleEvent.objects.create(
        equipment=equipment, kind=kind, occurred_on=occurred_on, unit=unit, details=details or {}
    )
    audit.record(acting_user, "lifecycle.recorded", event, region_code=equipment.region_id)
    return event


@transaction.atomic
def record_inspection(
    equipment: Equipment,
    *,
    acting_user: User | None,
    conclusion: str,
    inspected_on: dt.date,
    kind: str = InspectionKind.PERIODIC,
    body: Unit | None = None,
    inspector: Person | None = None,
    defects: int = 0,
    defect_notes: str = "",
    report_number: str = "",
) -> Inspection:
    """Record an inspection and move the next due date by the interval rule (none after a failure)."""
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    _ensure_in_jurisdiction(acting_user, equipment.region_id)
    findings = []
    if conclusion not in ("pass", "conditional", "fail"):
        findings.append(
            Finding(
                "conclusion",
                "conclusion.unknown",
                f"未知检验结论 / unknown conclusion {conclusion!r}",
                "error",
            )
        )
    if inspected_on > dt.date.today():
        findings.append(
            Finding(
                "inspected_on",
                "date.future",
                "检验日期不能在未来 / inspection date is in the future",
                "error",
            )
        )
    if defects < 0:
        findings.append(
            Finding(
                "defects",
                "defects.negative",
                "问题数不能为负 / defects cannot be negative",
                "error",
            )
        )
    _raise_on_errors(findings)
    # The first-inspection rule runs from commissioning to the first periodic inspection (TSG 21 7.1.6);
    # after any periodic inspection the regular interval applies, as in the demo generator.
    first = (
        kind != InspectionKind.PERIODIC
        and not equipment.inspections.filter(kind=InspectionKind.PERIODIC).exists()
    )
    next_due = RuleBook.from_database().next_due(
        equipment.variety_id, equipment.params, conclusion, inspected_on, first=first
    )
    inspection = Inspection.objects.create(
        equipment=equipment,
        body=body,
        inspector=inspector,
        kind=kind,
        inspected_on=inspected_on,
        conclusion=conclusion,
        defects=defects,
        defect_notes=defect_notes,
        report_number=report_number,
        next_due=next_due,
    )
    latest = equipment.inspections.order_by("-inspected_on", "-id").first()
    if latest.pk == inspection.pk:  # a back-dated record does not move the due date
        before = audit.snapshot(equipment)
        equipment.next_inspection_due = next_due
        equipment.save(update_fields=["next_inspection_due", "updated_at"])
        audit.record(acting_user, "equipment.due_moved", equipment, before=before)
    audit.record(acting_user, "inspection.recorded", inspection, region_code=equipment.region_id)
    return inspection


@transaction.atomic
def register_person(
    *,
    acting_user: User | None,
    name: str,
    role: str,
    region_code: str = "",
    employer: Unit | None = None,
    national_id: str = "",
    phone: str = "",
    certificates: Sequence[dict[str, Any]] = (),
) -> Person:
    """Register a person with certificates; the ID number is stored encrypted and only ever shown masked."""
    region_code = region_code or (employer.region_id if employer else "")
    findings = []
    if not region_code:
        findings.append(
            Finding(
                "region",
                "region.required",
                "需要所在区划或工作单位 / give a region or an employer",
                "error",
            )
        )
    national_id = national_id.strip().upper()
    if national_id and (len(national_id) != 18 or not national_id[:17].isdigit()):
        findings.append(
            Finding(
                "national_id",
                "national_id.format",
                "身份证号应为18位 / national ID must be 18 characters",
                "error",
            )
        )
    for index, cert in enumerate(certificates):
        if cert["expires_on"] < cert["issued_on"]:
            findings.append(
                Finding(
                    f"certificates[{index}]",
                    "certificate.dates",
                    "有效期早于发证日期 / expires before issued",
                    "error",
                )
            )
    _raise_on_errors(findings)
    _ensure_in_jurisdiction(acting_user, region_code)
    person = Person.objects.create(
        name=name,
        role=role,
        employer=employer,
        region_id=region_code,
        national_id_encrypted=personal.encrypt(national_id),
        national_id_hash=personal.lookup_hash(national_id),
        national_id_masked=personal.mask_national_id(national_id) if national_id else "",
        phone=phone,
    )
    Certificate.objects.bulk_create(Certificate(person=person, **cert) for cert in certificates)
    audit.record(
        acting_user,
        "person.registered",
        person,
        after=audit.snapshot(person, exclude=("national_id_encrypted", "national_id_hash")),
    )
    return person


@transaction.atomic
def record_accident(
    *,
    acting_user: User | None,
    occurred_at: dt.datetime,
    kind: str,
    location: Geometry = None,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    declared_region_code: str = "",
    equipment: Equipment | None = None,
    unit: Unit | None = None,
    severity: str = "ordinary",
    deaths: int = 0,
    injuries: int = 0,
    direct_loss: Decimal | float = 0,
    cause_class: str = "other",
    address: str = "",
    description: str = "",
) -> Accident:
    """Record an accident at a place (or at its equipment's place when none is given)."""
    findings = []
    for name, value in (("deaths", deaths), ("injuries", injuries), ("direct_loss", direct_loss)):
        if value < 0:
            findings.append(
                Finding(name, f"{name}.negative", f"{name} 不能为负 / cannot be negative", "error")
            )
    _raise_on_errors(findings)
    if location is None and equipment is not None:
        location, source_crs = equipment.geometry, crs.CRS.WGS84
        if location is not None and location.geom_type != "Point":
            location = location.point_on_surface
    placement = _placed(location, source_crs, declared_region_code, "location")
    _ensure_in_jurisdiction(acting_user, placement.region.code)
    accident = Accident.objects.create(
        occurred_at=occurred_at,
        location=placement.geometry,
        address=address,
        region=placement.region,
        equipment=equipment,
        unit=unit or (equipment.use_unit if equipment else None),
        kind=kind,
        severity=severity,
        deaths=deaths,
        injuries=injuries,
        direct_loss=Decimal(str(direct_loss)),
        cause_class=cause_class,
        description=description,
    )
    audit.record(acting_user, "accident.recorded", accident)
    return accident


@transaction.atomic
def register_resource(
    *,
    acting_user: User | None,
    name: str,
    resource_type: str,
    location: Geometry,
    source_crs: crs.CRS | str = crs.CRS.WGS84,
    capability: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    duty_hours: str = "24h",
    address: str = "",
    unit: Unit | None = None,
) -> EmergencyResource:
    """Register a rescue team, station or depot at its location."""
    if location is None:
        raise RegistryError(
            [
                Finding(
                    "location",
                    "location.required",
                    "应急资源必须有位置 / a resource needs a location",
                    "error",
                )
            ]
        )
    placement = _placed(location, source_crs, "", "location")
    _ensure_in_jurisdiction(acting_user, placement.region.code)
    resource = EmergencyResource.objects.create(
        name=name,
        resource_type=resource_type,
        location=placement.geometry,
        region=placement.region,
        capability=capability,
        contact_name=contact_name,
        contact_phone=contact_phone,
        duty_hours=duty_hours,
        address=address,
        unit=unit,
    )
    audit.record(acting_user, "resource.registered", resource)
    return resource
