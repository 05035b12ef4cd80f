"""Which importer reads which dataset: equipment in bulk (equipment.py), the others row by row
through the registry services (records.py)."""

from __future__ import annotations

from importlib import import_module

from ..models.imports import Dataset

IMPORTERS = {
    Dataset.EQUIPMENT: ("equipment", "import_equipment"),
    Dataset.UNITS: ("records", "import_units"),
    Dataset.PERSONS: ("records", "import_persons"),
    Dataset.INSPECTIONS: ("records", "import_inspections"),
    Dataset.ACCIDENTS: ("records", "import_accidents"),
}


def importer_for(dataset: str):
    module, name = IMPORTERS[Dataset(dataset)]
    return getattr(import_module(f"{__package__}.{module}"), name)
