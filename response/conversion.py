"""Turning a closed incident into an accident record, when it qualifies.

The record is written by the registry's own audited `record_accident` (so it is placed, scoped
and counted on the accident layer like any other) and the incident links to it; an incident
becomes at most one accident. Whether it qualifies is a settings-backed rule (`response/conf.py`):
enough casualties, or a responder's explicit flag where flagging is allowed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import User
from registry import services as registry
from registry.models import Accident

from . import conf
from .exceptions import refuse
from .models import IncidentEvent, IncidentEventKind, IncidentState
from .services import check_actor, check_note, lock_incident


def rule() -> dict:
    return {
        "state": IncidentState.CLOSED.value,
        "min_casualties": int(conf.value("RESPONSE_ACCIDENT_MIN_CASUALTIES")),
        "flag_allowed": bool(conf.value("RESPONSE_ACCIDENT_FLAG_ALLOWED")),
    }


def qualifies(*, deaths: int, injuries: int, flagged: bool) -> bool:
    casualties = deaths + injuries
    minimum = int(conf.value("RESPONSE_ACCIDENT_MIN_CASUALTIES"))
    return casualties >= minimum > 0 or (
        flagged and bool(conf.value("RESPONSE_ACCIDENT_FLAG_ALLOWED"))
    )


def convert_to_accident(
    incident_id: int,
    *,
    acting_user: User,
    kind: str,
    deaths: int = 0,
    injuries: int = 0,
    flagged: bool = False,
    severity: str = "ordinary",
    cause_class: str = "other",
    direct_loss: Decimal | float = 0,
    description: str = "",
) -> Accident:
    """Record a closed incident as an accident (at its place, time, device and unit)."""
    check_actor(acting_user)
    description = check_note(description)
    kind = (kind or "").strip()
    if not kind or len(kind) > 32:
        refuse("kind", "kind.required", "请给出事故类型（最长32字）/ give the accident kind (≤ 32)")
    with transaction.atomic():
        incident = lock_incident(incident_id, acting_user)
        if incident.state != IncidentState.CLOSED:
            refuse(
                "state",
                "incident.not_closed",
                "只有已结束的事件可转为事故 / only a closed incident becomes an accident "
                f"(this one is {incident.state})",
            )
        if incident.accident_id is not None:
            refuse(
                "incident",
                "incident.converted",
                f"已转为事故 {incident.accident_id} / already recorded as accident "
                f"{incident.accident_id}",
            )
        if not qualifies(deaths=deaths, injuries=injuries, flagged=flagged):
            refuse(
                "deaths",
                "accident.not_qualified",
                "无伤亡且未标记为事故 / no casualties recorded and not flagged as an accident",
                "record the deaths or injuries, or set flagged",
            )
        accident = registry.record_accident(
            acting_user=acting_user,
            occurred_at=incident.reported_at,
            kind=kind,
            location=incident.location,
            declared_region_code=incident.region_id,
            equipment=incident.equipment,
            unit=incident.unit,
            severity=severity,
            deaths=deaths,
            injuries=injuries,
            direct_loss=direct_loss,
            cause_class=cause_class,
            address=incident.address,
            description=description or incident.summary,
        )
        before = audit.snapshot(incident)
        incident.accident = accident
        incident.save(update_fields=["accident", "updated_at"])
        IncidentEvent.objects.create(
            incident=incident,
            kind=IncidentEventKind.ACCIDENT,
            at=max(timezone.now(), incident.closed_at),
            actor=acting_user,
            note=f"转为事故 / recorded as accident {accident.pk}",
        )
        audit.record(acting_user, "incident.converted", incident, before=before)
    return accident
