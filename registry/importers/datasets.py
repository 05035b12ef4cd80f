"""Which importer reads which dataset: equipment in bulk (equipment.py), the others row by row
through the registry services (records.py), and those an upper app registers.

The registry sits below the apps that build on it (cylinders…), so it cannot name their
importers: such an app calls `register_dataset` from its AppConfig.ready() with its elements and
its importer, and the page, API, command, mapping and report offer it like the registry's own
(docs/architecture.md "How to add an import dataset").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from ..models.imports import Dataset

IMPORTERS = {
    Dataset.EQUIPMENT: ("equipment", "import_equipment"),
    Dataset.UNITS: ("records", "import_units"),
    Dataset.PERSONS: ("records", "import_persons"),
    Dataset.INSPECTIONS: ("records", "import_inspections"),
    Dataset.ACCIDENTS: ("records", "import_accidents"),
}
NAME_LENGTH = 12  # ImportJob.dataset and SavedMapping.dataset hold this many characters


@dataclass(frozen=True)
class Registered:
    """A dataset an upper app adds: its name, "中文 / English" label, elements (elements.Element),
    the groups of which one element must be mapped, and the importer (same signature as
    records.import_units)."""

    name: str
    label: str
    elements: tuple
    importer: Callable
    either: tuple[tuple[str, ...], ...] = ()


REGISTERED: dict[str, Registered] = {}


def register_dataset(
    name: str, label: str, *, elements: tuple, importer: Callable, either: tuple = ()
) -> None:
    """Add a dataset to the pipeline (from an AppConfig.ready(); registering again replaces)."""
    if name in Dataset.values or not 0 < len(name) <= NAME_LENGTH:
        raise ValueError(f"dataset name {name!r}: taken or longer than {NAME_LENGTH}")
    REGISTERED[name] = Registered(name, label, tuple(elements), importer, tuple(either))


def choices() -> list[tuple[str, str]]:
    """Every dataset as (value, label): the registry's, then the registered ones."""
    return [*Dataset.choices, *((item.name, item.label) for item in REGISTERED.values())]


def names() -> list[str]:
    return [value for value, _ in choices()]


def known(value) -> str:
    """The dataset's name; ValueError when there is no such dataset."""
    if value in REGISTERED:
        return value
    return Dataset(value).value


def label_of(value: str) -> str:
    return dict(choices()).get(value, value)


def importer_for(dataset: str):
    if dataset in REGISTERED:
        return REGISTERED[dataset].importer
    module, name = IMPORTERS[Dataset(dataset)]
    return getattr(import_module(f"{__package__}.{module}"), name)
