"""Writes for a device over its life: registration, edits, status, lifecycle steps, inspections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, MultiLineString
from django.db import transaction

from accounts import audit, policy
from accounts.models import User
from geo import crs

from .. import catalogue
from ..exceptions import RegistryError
from ..exchange import changelog
from ..intervals import RuleBook
from ..models import Equipment, Inspection, LifecycleEvent, Person, Unit, Variety
from ..models.equipment import PIPELINE_KIND, InspectionKind, LifecycleEventKind
from ..models.identifiers import already_registered, unique_identifiers
from ..validators import (
    Finding,
    check_certificate_matches_variety,
    check_certificate_number,
    check_device_code,
    check_registration_code,
    check_rescue_id,
    normalise_certificate_number,
)
from . import rules
from .checks import Geometry, ensure_in_jurisdiction, error, placed, raise_on_errors, refuse
from .rules import ALLOWED_STATUS_CHANGES, STATUS_EVENTS

__all__ = [
    "ALLOWED_STATUS_CHANGES",
    "EDITABLE_EQUIPMENT_FIELDS",
    "STATUS_EVENTS",
    "change_equipment_status",
    "check_identifiers",
    "identifiers_taken",
    "record_inspection",
    "record_lifecycle_event",
    "register_equipment",
    "update_equipment",
]

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


def check_identifiers(
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
            error(
                "device_code",
                "device_code.required",
                "设备代码或注册代码至少一个 / give a device code or a registration code",
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


def identifiers_taken(
    *,
    device_code: str = "",
    registration_code: str = "",
    certificate_number: str = "",
    rescue_id: str = "",
    city_of: str = "",
    exclude_pk: int | None = None,
) -> list[Finding]:
    """The codes another device already holds, in any jurisdiction. Each answers "already
    registered" naming its field only: nothing of the other device (variety, place, status)."""
    others = Equipment.objects.exclude(pk=exclude_pk) if exclude_pk else Equipment.objects.all()
    wanted = {
        "device_code": device_code,
        "registration_code": registration_code,
        "certificate_number": certificate_number,
        "rescue_id": rescue_id,
    }
    taken = []
    for name, value in wanted.items():
        if not value:
            continue
        holders = others.filter(**{name: value})
        if name == "rescue_id":  # 96333 numbers devices per city
            holders = holders.filter(region__code__startswith=city_of[:4])
        if holders.exists():
            taken.append(already_registered(name))
    return taken


def _resolve_variety(variety_code: str) -> tuple[Variety, list[Finding]]:
    try:
        entry, finding = catalogue.resolve(variety_code.strip().upper())
    except catalogue.UnknownCode as unknown:
        raise RegistryError([unknown.finding]) from unknown
    findings = [finding] if finding else []
    variety = Variety.objects.get(code=entry.code)
    if not variety.registrable or not catalogue.is_leaf(variety.code):
        findings.append(
            error(
                "variety",
                "variety.not_registrable",
                f"{variety} 不是可登记的设备品种 / not a use-registered variety (give the most specific code)",
            )
        )
    return variety, raise_on_errors(findings)


def _locked(equipment: Equipment, acting_user: User | None) -> Equipment:
    """The device's row, locked until the transaction ends, once the user may write to it."""
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    ensure_in_jurisdiction(acting_user, equipment.region_id)
    return equipment


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
    next_inspection_due: dt.date | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Equipment, list[Finding]]:
    """Register a device for use: validate its codes, place it, record the registration event.

    Returns the device and the warnings it was accepted with (legacy codes, division mismatch).
    `next_inspection_due` is a due date already known (a ledger's); without it the first
    inspection's is worked out from the commissioning date.
    """
    policy.require(acting_user, policy.Action.REGISTER)
    device_code = device_code.strip().upper()
    registration_code = registration_code.strip()
    certificate_number = (
        normalise_certificate_number(certificate_number) if certificate_number else ""
    )
    variety, warnings = _resolve_variety(variety_code)
    warnings += raise_on_errors(
        check_identifiers(
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
        refuse(
            "location",
            "geometry.kind",
            "压力管道以管线表示 / a pipeline needs a route, not a point",
        )
    if not is_pipeline and route is not None:
        refuse("route", "geometry.kind", "只有压力管道有走向 / only pipelines have a route")
    placement = placed(
        route if is_pipeline else location,
        source_crs,
        declared_region_code,
        "route" if is_pipeline else "location",
    )
    warnings += placement.findings
    ensure_in_jurisdiction(acting_user, placement.region.code)
    raise_on_errors(
        identifiers_taken(
            device_code=device_code,
            registration_code=registration_code,
            certificate_number=certificate_number,
            rescue_id=rescue_id.strip(),
            city_of=placement.region.code,
        )
    )
    geometry = placement.geometry
    if is_pipeline and geometry is not None and geometry.geom_type == "LineString":
        geometry = MultiLineString(geometry, srid=geometry.srid)
    with unique_identifiers():
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
            status=rules.REGISTERED_STATUS,
            next_inspection_due=rules.due_on_registration(
                RuleBook.from_database(),
                variety.code,
                params or {},
                commissioned_on,
                next_inspection_due,
            ),
        )
    event = LifecycleEvent.objects.create(
        equipment=equipment,
        kind=LifecycleEventKind.REGISTRATION,
        occurred_on=rules.registration_date(registered_on, commissioned_on, dt.date.today()),
        unit=use_unit,
        details=rules.registration_details(certificate_number),
    )
    changelog.record(equipment, changelog.ChangeOperation.CREATE)
    changelog.record(event, changelog.ChangeOperation.CREATE)
    audit.record(acting_user, rules.EQUIPMENT_REGISTERED, equipment)
    return equipment, warnings


@transaction.atomic
def update_equipment(
    equipment: Equipment, *, acting_user: User | None, **changes: Any
) -> Equipment:
    """Change descriptive fields of a device, with before/after in the audit trail."""
    policy.require(acting_user, policy.Action.CHANGE)
    unknown = (
        set(changes)
        - EDITABLE_EQUIPMENT_FIELDS
        - {"location", "source_crs", "declared_region_code"}
    )
    if unknown:
        raise RegistryError(
            error(name, "field.not_editable", f"字段不可修改 / {name} cannot be changed here")
            for name in sorted(unknown)
        )
    equipment = _locked(equipment, acting_user)
    before = audit.snapshot(equipment)
    if "certificate_number" in changes and changes["certificate_number"]:
        changes["certificate_number"] = normalise_certificate_number(changes["certificate_number"])
        raise_on_errors(check_certificate_number(changes["certificate_number"]))
    if "rescue_id" in changes and changes["rescue_id"]:
        raise_on_errors(check_rescue_id(changes["rescue_id"]))
    moved = "location" in changes
    if moved:
        source_crs = crs.CRS.parse(changes.pop("source_crs", crs.CRS.WGS84))
        placement = placed(
            changes.pop("location"), source_crs, changes.pop("declared_region_code", ""), "location"
        )
        equipment.source_crs = source_crs.value
        # Moving a device out of the jurisdiction is a transfer, which the receiving agency registers.
        ensure_in_jurisdiction(acting_user, placement.region.code)
        equipment.location, equipment.region, equipment.region_mismatch = (
            placement.geometry,
            placement.region,
            placement.region_mismatch,
        )
    # Moving to another city can meet the device's own 96333 number there.
    rescue_id = changes.get("rescue_id", equipment.rescue_id if moved else "")
    raise_on_errors(
        identifiers_taken(
            certificate_number=changes.get("certificate_number", ""),
            rescue_id=rescue_id,
            city_of=equipment.region_id,
            exclude_pk=equipment.pk,
        )
    )
    for name, value in changes.items():
        setattr(equipment, name, value)
    with unique_identifiers():
        equipment.save()
    changelog.record(equipment, changelog.ChangeOperation.UPDATE)
    audit.record(acting_user, rules.EQUIPMENT_UPDATED, equipment, before=before)
    return equipment


@transaction.atomic
def change_equipment_status(
    equipment: Equipment,
    status: str,
    *,
    acting_user: User | None,
    on: dt.date | None = None,
    reason: str = "",
    under: policy.Action = policy.Action.CHANGE,
) -> Equipment:
    """Suspend, resume, cancel or scrap a device; cancelled and scrapped are final. `under` is the
    right the change is made under: a seal is part of recording a patrol visit."""
    policy.require(acting_user, under)
    equipment = _locked(equipment, acting_user)
    if status not in ALLOWED_STATUS_CHANGES.get(equipment.status, set()):
        refuse(
            "status",
            "status.transition",
            f"不能从 {equipment.status} 变为 {status} / status change not allowed",
        )
    before = audit.snapshot(equipment)
    equipment.status = status
    equipment.save(update_fields=["status", "updated_at"])
    event = LifecycleEvent.objects.create(
        equipment=equipment,
        kind=STATUS_EVENTS[status],
        occurred_on=on or dt.date.today(),
        details=rules.status_details(status, reason),
    )
    changelog.record(equipment, changelog.ChangeOperation.UPDATE)
    changelog.record(event, changelog.ChangeOperation.CREATE)
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
    under: policy.Action = policy.Action.CHANGE,
) -> LifecycleEvent:
    """Append a step (installation, modification, major repair, change of use unit…) to a device's
    history; `under` is the right it is written under (a patrol visit's supervision step)."""
    policy.require(acting_user, under)
    equipment = _locked(equipment, acting_user)
    if kind not in LifecycleEventKind.values:
        refuse("kind", "event.kind", f"未知事件类型 / unknown event kind {kind!r}")
    if kind == LifecycleEventKind.CHANGE_OF_USE_UNIT:
        if unit is None:
            refuse("unit", "unit.required", "变更使用单位需指定新单位 / give the new use unit")
        if "use" not in unit.roles:
            refuse("unit", "unit.role", "新单位不是使用单位 / the new unit has no use-unit role")
        ensure_in_jurisdiction(acting_user, unit.region_id)
        before = audit.snapshot(equipment)
        equipment.use_unit = unit
        equipment.save(update_fields=["use_unit", "updated_at"])
        changelog.record(equipment, changelog.ChangeOperation.UPDATE)
        audit.record(acting_user, "equipment.use_unit_changed", equipment, before=before)
    event = LifecycleEvent.objects.create(
        equipment=equipment, kind=kind, occurred_on=occurred_on, unit=unit, details=details or {}
    )
    changelog.record(event, changelog.ChangeOperation.CREATE)
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
    policy.require(acting_user, policy.Action.RECORD_INSPECTION)
    equipment = _locked(equipment, acting_user)
    findings = []
    if conclusion not in ("pass", "conditional", "fail"):
        findings.append(
            error(
                "conclusion",
                "conclusion.unknown",
                f"未知检验结论 / unknown conclusion {conclusion!r}",
            )
        )
    if inspected_on > dt.date.today():
        findings.append(
            error(
                "inspected_on",
                "date.future",
                "检验日期不能在未来 / inspection date is in the future",
            )
        )
    if defects < 0:
        findings.append(
            error("defects", "defects.negative", "问题数不能为负 / defects cannot be negative")
        )
    raise_on_errors(findings)
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
    changelog.record(inspection, changelog.ChangeOperation.CREATE)
    latest = equipment.inspections.order_by("-inspected_on", "-id").first()
    if latest.pk == inspection.pk:  # a back-dated record does not move the due date
        before = audit.snapshot(equipment)
        equipment.next_inspection_due = next_due
        equipment.save(update_fields=["next_inspection_due", "updated_at"])
        changelog.record(equipment, changelog.ChangeOperation.UPDATE)
        audit.record(acting_user, "equipment.due_moved", equipment, before=before)
    audit.record(acting_user, "inspection.recorded", inspection, region_code=equipment.region_id)
    return inspection
