"""The one way a write is recorded: services call `record` inside their transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import models
from django.forms.models import model_to_dict
from django.http import HttpRequest

from .models import AuditEntry, User

# Personal fields of each model (by label) with their masks: the audit trail keeps that such a
# field changed, in its masked form, not a second copy of the data (registry.personal registers
# its list when the app is ready; accounts cannot import registry).
PERSONAL_MASKS: dict[str, dict[str, Callable[[str], str]]] = {}


def snapshot(
    instance: models.Model | None, *, exclude: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """A JSON-able copy of a record's fields, geometry as EWKT, personal fields masked, so
    before/after can be compared."""
    if instance is None:
        return None
    data = model_to_dict(instance, exclude=list(exclude))
    masks = PERSONAL_MASKS.get(instance._meta.label, {})
    for key, value in data.items():
        if key in masks:
            data[key] = masks[key]("" if value is None else str(value))
        elif isinstance(value, GEOSGeometry):
            data[key] = value.ewkt
        elif isinstance(value, models.Model):
            data[key] = value.pk
        elif isinstance(value, list | tuple) and value and isinstance(value[0], models.Model):
            data[key] = [item.pk for item in value]
    return data


def record(
    actor: User | None,
    action: str,
    instance: models.Model,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    region_code: str = "",
) -> AuditEntry:
    agency = getattr(actor, "agency", None)
    return AuditEntry.objects.create(
        actor=actor,
        jurisdiction=(agency.region_id or "") if agency else "",
        action=action,
        model=instance._meta.label,
        object_pk=str(instance.pk),
        region_code=region_code or getattr(instance, "region_id", None) or "",
        before=before,
        after=after if after is not None else snapshot(instance),
    )


def record_personal_data_read(
    acting_user: User,
    records: Iterable[models.Model],
    fields: tuple[str, ...],
    purpose: str,
    *,
    related: dict[str, list[Any]] | None = None,
) -> None:
    """An audit row for each record whose personal data an answer or page showed in full.

    `related` names other records shown with it (a unit page's staff: {"registry.Person": [pks]}),
    so one page view is one row."""
    for item in records:
        record(
            acting_user,
            "personal_data.read",
            item,
            after={
                "fields": list(fields),
                "purpose": purpose,
                **({"related": related} if related else {}),
            },
            region_code=getattr(item, "region_id", "") or "",
        )


def record_event(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    subject: User | None = None,
    username: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """A security event that writes no record (a failed sign-in, a lockout, a refusal): who acted
    if signed in, the account it concerns if known (else the name tried), and where the request
    came from. Never a password or a code."""
    user = subject or actor
    agency = getattr(user, "agency", None)
    region = (agency.region_id or "") if agency else ""
    after = {"username": username or (user.get_username() if user else ""), **(detail or {})}
    if request is not None:
        after |= {
            "ip": request.META.get("REMOTE_ADDR", ""),
            "method": request.method,
            "path": request.path[:300],
        }
    actor_agency = getattr(actor, "agency", None)
    return AuditEntry.objects.create(
        actor=actor,
        jurisdiction=(actor_agency.region_id or "") if actor_agency else "",
        action=action,
        model=User._meta.label,
        object_pk=str(user.pk) if user else "",
        region_code=region,
        before=None,
        after=after,
    )
