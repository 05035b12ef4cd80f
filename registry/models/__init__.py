"""The four thematic databases (equipment, units, personnel, accidents) and what hangs off them."""

from . import exchange  # noqa: F401  (the exchange models register by being imported)
from .catalogue import InspectionRule, Variety
from .equipment import Equipment, EquipmentStatus, Inspection, InspectionConclusion, LifecycleEvent
from .events import Accident, EmergencyResource
from .units import Certificate, Person, Unit, UnitRole

__all__ = [
    "Accident",
    "Certificate",
    "EmergencyResource",
    "Equipment",
    "EquipmentStatus",
    "Inspection",
    "InspectionConclusion",
    "InspectionRule",
    "LifecycleEvent",
    "Person",
    "Unit",
    "UnitRole",
    "Variety",
]
