"""What a device's public page shows, and only that: the one list of public fields (docs/public.md).

Nothing personal (no contact, no person, no address), no place finer than the district, and for a
device no longer in use its status alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from common.i18n import in_language
from registry.models import Equipment, EquipmentStatus

# Devices that are gone: their page says so and nothing else.
ENDED = frozenset({EquipmentStatus.CANCELLED, EquipmentStatus.SCRAPPED})


@dataclass(frozen=True)
class PublicCard:
    status: str
    status_label: str
    ended: bool
    kind: str = ""
    variety: str = ""
    certificate_number: str = ""
    rescue_id: str = ""
    use_unit: str = ""
    maintenance_unit: str = ""
    district: str = ""
    last_inspected_on: dt.date | None = None
    last_conclusion: str = ""
    next_inspection_due: dt.date | None = None
    overdue: bool = False


def _catalogue_name(variety) -> str:
    return in_language(variety.name_zh, variety.name_en) if variety is not None else ""


def card_of(device: Equipment, *, on: dt.date | None = None) -> PublicCard:
    """The public card of one device (the caller found it by token or code)."""
    status_label = device.get_status_display()
    if device.status in ENDED:
        return PublicCard(status=device.status, status_label=status_label, ended=True)
    variety = device.variety
    kind = variety
    while kind is not None and kind.parent_id is not None:
        kind = kind.parent
    last = device.inspections.order_by("-inspected_on", "-pk").first()
    region = device.region
    district = region.name
    if region.parent is not None:
        district = f"{region.parent.name} {district}"
    return PublicCard(
        status=device.status,
        status_label=status_label,
        ended=False,
        kind=_catalogue_name(kind),
        variety=_catalogue_name(variety),
        certificate_number=device.certificate_number or "",
        rescue_id=device.rescue_id or "",
        use_unit=device.use_unit.name if device.use_unit_id else "",
        maintenance_unit=device.maintenance_unit.name if device.maintenance_unit_id else "",
        district=district,
        last_inspected_on=last.inspected_on if last else None,
        last_conclusion=last.get_conclusion_display() if last else "",
        next_inspection_due=device.next_inspection_due,
        # The map's definition of overdue (registry.models.equipment.overdue_condition).
        overdue=Equipment.objects.overdue(on).filter(pk=device.pk).exists(),
    )
