"""The equipment involved in an incident, as a responder needs it at once: the device, whom to
call (its use and maintenance units), its last inspection, its past accidents.

The use and maintenance units are the device's own emergency contacts, shown whatever the unit's
registered region (a maintenance company often sits in the next county): the device is in the
responder's jurisdiction, and its contracted maintenance unit is the first to be called. Their
phones are masked for roles without personal data; a full phone shown leaves an audit row.
"""

from __future__ import annotations

from accounts.audit import record_personal_data_read
from accounts.models import User
from registry import personal
from registry.models import Accident, Equipment, Unit

SHORT_LIST = 20
CONTACT_FIELDS = ("contact_name", "contact_phone")


def equipment_card(user: User, device: Equipment, *, purpose: str) -> dict:
    """The device (already scoped to the user) with its parties, last inspection and accidents."""
    inspection = device.inspections.order_by("-inspected_on", "-id").first()
    accidents = (
        Accident.objects.visible_to(user).filter(equipment=device).order_by("-occurred_at", "-id")
    )
    parties = {"use_unit": device.use_unit, "maintenance_unit": device.maintenance_unit}
    disclosed = [
        unit
        for unit in {u.pk: u for u in parties.values() if u is not None}.values()
        if user.may_read_personal_data and unit.contact_phone
    ]
    record_personal_data_read(user, disclosed, CONTACT_FIELDS, purpose)
    location = device.location or (device.route.point_on_surface if device.route else None)
    return {
        "id": device.pk,
        "device_code": device.device_code or "",
        "registration_code": device.registration_code,
        "certificate_number": device.certificate_number,
        "rescue_id": device.rescue_id,
        "variety": {
            "code": device.variety_id,
            "name": device.variety.name_zh,
            "name_en": device.variety.name_en,
        },
        "kind": device.kind,
        "status": device.status,
        "address": device.address,
        "region": {"code": device.region_id, "name": device.region.name},
        "lon": location.x if location else None,
        "lat": location.y if location else None,
        "next_inspection_due": device.next_inspection_due,
        "overdue": Equipment.objects.overdue().filter(pk=device.pk).exists(),
        **{role: _party(user, unit) for role, unit in parties.items()},
        "last_inspection": _inspection(inspection),
        "accidents": [_accident(a) for a in accidents[:SHORT_LIST]],
    }


def _party(user: User, unit: Unit | None) -> dict | None:
    if unit is None:
        return None
    return {
        "id": unit.pk,
        "name": unit.name,
        "address": unit.address,
        "contact_name": personal.value_for(user, unit, "contact_name"),
        "contact_phone": personal.value_for(user, unit, "contact_phone"),
        "masked": not user.may_read_personal_data,
    }


def _inspection(inspection) -> dict | None:
    if inspection is None:
        return None
    return {
        "inspected_on": inspection.inspected_on,
        "kind": inspection.kind,
        "conclusion": inspection.conclusion,
        "conclusion_label": inspection.get_conclusion_display(),
        "defects": inspection.defects,
        "report_number": inspection.report_number,
        "next_due": inspection.next_due,
    }


def _accident(accident: Accident) -> dict:
    return {
        "id": accident.pk,
        "occurred_at": accident.occurred_at,
        "kind": accident.kind,
        "severity": accident.severity,
        "deaths": accident.deaths,
        "injuries": accident.injuries,
    }
