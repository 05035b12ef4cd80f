"""The national identifiers the database keeps unique, and the answer a taken one gets.

A code already registered is refused naming the field only: the other record may lie in another
jurisdiction, and none of its attributes (variety, place, status) may show through the refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, connection, transaction

from ..exceptions import RegistryError
from ..validators import ERROR, Finding

# Unique constraint or index → the field whose value it keeps unique.
UNIQUE_IDENTIFIERS = {
    "registry_equipment_device_code_key": "device_code",
    "equipment_registration_code_unique": "registration_code",
    "equipment_certificate_number_unique": "certificate_number",
    "equipment_rescue_id_unique_in_city": "rescue_id",
    "registry_unit_credit_code_key": "credit_code",
    "person_national_id_unique": "national_id",
}
LABELS = {
    "device_code": ("设备代码", "device code"),
    "registration_code": ("注册代码", "registration code"),
    "certificate_number": ("使用登记证编号", "certificate number"),
    "rescue_id": ("96333救援识别码", "96333 rescue ID"),
    "credit_code": ("信用代码", "credit code"),
    "national_id": ("身份证号", "national ID"),
}


def already_registered(field: str) -> Finding:
    """The refusal of a taken identifier: the field and nothing about the record holding it."""
    chinese, english = LABELS[field]
    return Finding(
        field, f"{field}.duplicate", f"{chinese}已登记 / {english} already registered", ERROR
    )


def taken_identifier(error: IntegrityError) -> str | None:
    """The field whose unique constraint the error broke, if it is one of the identifiers."""
    diag = getattr(error.__cause__, "diag", None)
    return UNIQUE_IDENTIFIERS.get(getattr(diag, "constraint_name", None) or "")


@contextmanager
def unique_identifiers() -> Iterator[None]:
    """A write racing another for the same code answers "already registered", not a 500."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        field = taken_identifier(error)
        if field is None:
            raise
        raise RegistryError([already_registered(field)]) from error


# Personnel sit behind row-level security (migration 0010): whether an identifier is held by
# someone the reader cannot see is asked of the database, which answers yes or no past the wall.


def national_id_taken(id_hash: str) -> bool:
    """Whether anyone, in any jurisdiction, is registered with this national ID (by its hash)."""
    return _ask("SELECT registry_national_id_taken(%s)", [id_hash])


def certificate_held_elsewhere(number: str, holder_pk: int | None) -> bool:
    """Whether anyone but `holder_pk`, in any jurisdiction, holds this personnel certificate."""
    return _ask("SELECT registry_certificate_held_elsewhere(%s, %s)", [number, holder_pk])


def _ask(query: str, params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]
