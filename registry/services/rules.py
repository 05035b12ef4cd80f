"""What registering a device and changing its status write, spelt once for both writers.

`register_equipment` applies these rules to one device; the bulk importer
(`registry/importers/equipment/`) applies the same functions to every staged row in Python and
moves the values with set-based SQL. Where a value can only be built in SQL (an audit snapshot of
a row the INSERT made), `snapshot_sql` spells `accounts.audit.snapshot` field for field.
tests/registry/importers/test_import_parity.py holds the two writers to the same rows, events,
audit rows and change log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.db import models

from ..intervals import RuleBook
from ..models import EquipmentStatus
from ..models.equipment import LifecycleEventKind

# A device enters the register in use; the file's status, where it gives one, says otherwise.
REGISTERED_STATUS = EquipmentStatus.IN_USE

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

# Audit verbs. A row the bulk importer writes set-wise is audited as imported, so an auditor can
# tell a file's rows from a form's; the snapshot is the same either way.
EQUIPMENT_REGISTERED = "equipment.registered"
EQUIPMENT_IMPORTED = "equipment.imported"
EQUIPMENT_UPDATED = "equipment.updated"
UNIT_REGISTERED = "unit.registered"
UNIT_IMPORTED = "unit.imported"


def first_due(
    book: RuleBook,
    variety_code: str,
    params: Mapping[str, Any],
    commissioned_on: dt.date | None,
) -> dt.date | None:
    """The first inspection's due date: the rule table's first interval from commissioning."""
    if commissioned_on is None:
        return None
    return book.next_due(variety_code, params, "pass", commissioned_on, first=True)


def due_on_registration(
    book: RuleBook,
    variety_code: str,
    params: Mapping[str, Any],
    commissioned_on: dt.date | None,
    known_due: dt.date | None = None,
) -> dt.date | None:
    """A due date already known (a ledger's, set by the last inspection) wins over the first one."""
    return known_due or first_due(book, variety_code, params, commissioned_on)


def registration_date(
    registered_on: dt.date | None, commissioned_on: dt.date | None, today: dt.date
) -> dt.date:
    """The registration event's date: the registration's, else commissioning, else today."""
    return registered_on or commissioned_on or today


def registration_details(certificate_number: str) -> dict[str, Any]:
    """The registration event's details."""
    return {"certificate_number": certificate_number}


def status_details(status: str, reason: str) -> dict[str, Any]:
    """A status event's details."""
    return {"status": status, "reason": reason}


def snapshot_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields `accounts.audit.snapshot` (`model_to_dict`) keeps: the editable concrete ones."""
    if model._meta.many_to_many or model._meta.private_fields:
        raise TypeError(f"snapshot_sql spells no many-to-many or private fields ({model})")
    return [f for f in model._meta.concrete_fields if f.editable]


def snapshot_sql(model: type[models.Model], alias: str) -> str:
    """`accounts.audit.snapshot` of the row `alias` as a jsonb expression: the same keys (field
    names, a reference as its key), dates as ISO text, geometry as GEOS spells EWKT."""
    pairs = []
    for f in snapshot_fields(model):
        column = f'{alias}."{f.column}"'
        if isinstance(f, GeometryField):
            column = geos_ewkt_sql(column)
        pairs.append(f"'{f.name}', {column}")
    return f"jsonb_build_object({', '.join(pairs)})"


def geos_ewkt_sql(column: str) -> str:
    """EWKT as GEOS writes it ("SRID=4326;POINT (x y)", ", " between points), from PostGIS's
    ("POINT(x y)", ","); both print a coordinate as its shortest round-trip digits."""
    return (
        f"regexp_replace(replace(ST_AsEWKT({column}), ',', ', '), "
        r"'^(SRID=\d+;[A-Z ]*[A-Z])\(', '\1 (')"
    )
