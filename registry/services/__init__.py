"""Every write to the registry: validated, placed in its county, atomic and audited.

Callers import from here (``from registry import services``); the modules split it by concept.
"""

from .checks import Geometry
from .equipment import (
    ALLOWED_STATUS_CHANGES,
    EDITABLE_EQUIPMENT_FIELDS,
    STATUS_EVENTS,
    change_equipment_status,
    record_inspection,
    record_lifecycle_event,
    register_equipment,
    update_equipment,
)
from .events import record_accident, register_resource
from .units import register_person, register_unit

__all__ = [
    "ALLOWED_STATUS_CHANGES",
    "EDITABLE_EQUIPMENT_FIELDS",
    "STATUS_EVENTS",
    "Geometry",
    "change_equipment_status",
    "record_accident",
    "record_inspection",
    "record_lifecycle_event",
    "register_equipment",
    "register_person",
    "register_resource",
    "register_unit",
    "update_equipment",
]
