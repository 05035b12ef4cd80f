"""Inspections from a file: the device by its code in the jurisdiction, matched by date and report number."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User

from ... import services
from ...intervals import RuleBook
from ...models import Inspection, Unit
from ...models.equipment import InspectionConclusion, InspectionKind
from ...validators import check_credit_code
from .. import cells
from ..pipeline import ImportOutcome, ImportRequest
from ..readers import RowReader
from .common import (
    CHANGED,
    CONCLUSIONS,
    INSPECTION_KINDS,
    NEW,
    UNCHANGED,
    Row,
    differences,
    named_equipment,
    run_dataset,
    update_record,
)


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
        equipment = named_equipment(row, acting_user, "device_code", "registration_code")
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
        changes = differences(existing, wanted)
        if not changes:
            return UNCHANGED
        _correct_inspection(existing, changes, acting_user)
        return CHANGED

    return run_dataset(rows, request, progress, write)


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
    update_record(
        inspection,
        changes,
        acting_user=acting_user,
        action="inspection.corrected",
        region_code=equipment.region_id,
    )
    latest = equipment.inspections.order_by("-inspected_on", "-id").first()
    if latest.pk == inspection.pk and equipment.next_inspection_due != inspection.next_due:
        update_record(
            equipment,
            {"next_inspection_due": inspection.next_due},
            acting_user=acting_user,
            action="equipment.due_moved",
        )
