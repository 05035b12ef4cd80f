"""The four thematic databases (equipment, units, personnel, accidents) and what hangs off them."""

from . import exchange  # noqa: F401  (the exchange models register by being imported)
from .catalogue import InspectionRule, Variety
from .equipment import Equipment, EquipmentStatus, Inspection, InspectionConclusion, LifecycleEvent
from .events import Accident, EmergencyResource
from .imports import Dataset, ImportFinding, ImportJob, SavedMapping
from .units import Certificate, Person, Unit, UnitRole

__all__ = [
    "Accident",
    "Certificate",
    "EmergencyResource",
    "Dataset",
    "Equipment",
    "EquipmentStatus",
    "Inspection",
    "InspectionConclusion",
    "ImportFinding",
    "ImportJob",
    "InspectionRule",
    "LifecycleEvent",
    "Person",
    "SavedMapping",
    "Unit",
    "UnitRole",
    "Variety",
]
