"""Personal information (PIPL): which fields are personal, how each is masked; national ID numbers
encrypted at rest and found by keyed hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP


@cache
def _key_material() -> bytes:
    return (settings.PERSONAL_DATA_KEY or settings.SECRET_KEY).encode()


@cache
def _fernet() -> Fernet:
    return Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"segis-fernet:" + _key_material()).digest())
    )


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode() if token else ""


def lookup_hash(value: str) -> str:
    """Equal IDs give equal hashes, so a person can be found by ID without decrypting every row."""
    if not value:
        return ""
    return hmac.new(
        b"segis-lookup:" + _key_material(), value.strip().upper().encode(), hashlib.sha256
    ).hexdigest()


def mask_national_id(value: str) -> str:
    """Keep the region (6) and the last 4 characters: 640104********123X."""
    value = value.strip().upper()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 11 else "*" * len(digits)


def mask_name(value: str) -> str:
    """Keep the surname (the first character): 张三 → 张*, 欧阳娜娜 → 欧***."""
    value = value.strip()
    return value[:1] + "*" * (len(value) - 1) if len(value) > 1 else "*" * len(value)


Mask = Callable[[str], str]

# The one list of personal fields (PIPL), by model label: every surface masks these for roles
# without personal data (User.may_read_personal_data), never filters, searches or sorts on them
# for those roles, and audits a read that shows them in full. A foreign key is personal when the
# record it names is a person (shown by name).
PERSONAL_FIELDS: dict[str, dict[str, Mask]] = {
    "registry.Unit": {"contact_name": mask_name, "contact_phone": mask_phone},
    "registry.EmergencyResource": {"contact_name": mask_name, "contact_phone": mask_phone},
    "registry.Person": {
        "name": mask_name,
        "phone": mask_phone,
        "national_id_masked": mask_national_id,  # stored masked; still not a filter
        "national_id_encrypted": lambda value: "",
        "national_id_hash": lambda value: "",
    },
    "registry.Inspection": {"inspector": mask_name},
}


# The personal fields a record's label (its str) shows, as autocompletes list it.
LABEL_FIELDS: dict[str, tuple[str, ...]] = {"registry.Person": ("name",)}


def fields_of(model: type[Model] | Model) -> dict[str, Mask]:
    """The personal fields of a model (class or instance), each with its mask."""
    return PERSONAL_FIELDS.get(model._meta.label, {})


def may_read(user) -> bool:
    return bool(getattr(user, "may_read_personal_data", False))


def masked(instance: Model, field: str) -> str:
    value = getattr(instance, field)
    return fields_of(instance)[field]("" if value is None else str(value))


def value_for(user, instance: Model, field: str) -> Any:
    """A field as this user may see it: whole for roles that read personal data, else masked."""
    if may_read(user) or field not in fields_of(instance):
        return getattr(instance, field)
    return masked(instance, field)


def shown_in_full(user, instance: Model, fields: Iterable[str]) -> tuple[str, ...]:
    """Of these fields, the personal ones this user is shown unmasked: those with a value that
    masking would change (an ID number stored masked shows nothing more in full)."""
    if not may_read(user):
        return ()
    personal = fields_of(instance)
    return tuple(
        f
        for f in fields
        if f in personal
        and getattr(instance, f) not in (None, "")
        and masked(instance, f) != str(getattr(instance, f))
    )


def lookup_is_personal(model: type[Model], lookup: str) -> bool:
    """Whether an ORM lookup (`contact_phone__startswith`, `use_unit__contact_name`) reads a
    personal field of any model along its path: such a filter answers questions about the value."""
    for part in lookup.split(LOOKUP_SEP):
        if part in fields_of(model):
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a transform or lookup (startswith, year…): the path ends here
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False
