"""Dispatch along the 96333 tiers, and escalation when an asked party lets its time pass.

Tier 1 is the device's contracted maintenance unit; then the nearest other maintenance unit; then
the county's standby rescue team; then fire rescue, the backstop. Each tier is asked once, in that
order; the next is asked when the last one declines or its deadline passes unanswered
(`escalate_due`, run by the `escalate_incidents` command). A tier with nobody to ask is skipped:
an incident without equipment (located by a point) starts at tier 2.

Automatic picks search the incident's county, the area of the desk that owns the incident (and a
standby team is a county's by definition), so the runner, acting for nobody, picks what a county
responder would. The contracted unit is asked wherever it is registered: a maintenance company
often sits in the next county.

Every write locks the incident row first (`services.lock_incident`), as state changes do: two
runners, or a runner and a responder, cannot both escalate one expired ask.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.db.models.functions import Distance
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import User
from geo.functions import has_geometry
from geo.scoping import Scope
from registry.models import EmergencyResource, Unit, UnitRole
from registry.models.events import ResourceType

from . import conf, nearby
from .exceptions import refuse
from .models import (
    ENDED_STATES,
    TIER_ORDER,
    Dispatch,
    DispatchAnswer,
    DispatchTier,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
)
from .services import (
    cancel_ask,
    check_actor,
    check_note,
    check_reason,
    check_time,
    lock_incident,
    move_incident,
)

Party = Unit | EmergencyResource
RESOURCE_TIERS: dict[str, str] = {
    DispatchTier.STANDBY_RESCUE: ResourceType.RESCUE_TEAM,
    DispatchTier.FIRE_RESCUE: ResourceType.FIRE_STATION,
}
# Fire rescue is the backstop: nobody comes after it, so its ask is not timed.
UNTIMED_TIERS = frozenset({DispatchTier.FIRE_RESCUE})


def pick_party(incident: Incident, tier: str) -> Party | None:
    """Whom the tier asks for this incident: nobody already asked, nearest first."""
    asked = list(incident.dispatches.all())
    if tier == DispatchTier.CONTRACTED:
        unit = incident.equipment.maintenance_unit if incident.equipment else None
        return unit if unit is not None and unit.pk not in {d.unit_id for d in asked} else None
    if tier == DispatchTier.NEAREST_MAINTENANCE:
        device = incident.equipment
        contracted = [device.maintenance_unit_id] if device and device.maintenance_unit_id else []
        # The county's own units only: another county's companies are not the responder's to
        # see (the contracted unit is the exception: the device names it).
        return (
            Unit.objects.within_prefix(incident.region_id)
            .with_role(UnitRole.MAINTENANCE)
            .filter(has_geometry())
            # "Other": never the contracted unit, even when it has not been asked yet.
            .exclude(pk__in=[d.unit_id for d in asked if d.unit_id] + contracted)
            # Geodesic, as `nearby` measures; a county holds few maintenance units to rank.
            .annotate(distance=Distance("location", incident.location, spheroid=True))
            .order_by("distance", "pk")
            .first()
        )
    resource_type = RESOURCE_TIERS[tier]
    skip = {d.resource_id for d in asked if d.resource_id}
    found = nearby.nearest_resources(
        Scope(incident.region_id), incident.location, [resource_type], k=len(skip) + 1
    )
    ids = [row["id"] for row in found[resource_type] if row["id"] not in skip]
    return EmergencyResource.objects.get(pk=ids[0]) if ids else None


def _ask(
    incident: Incident, tier: str, party: Party, *, actor: User | None, at: dt.datetime, note: str
) -> Dispatch:
    dispatch = Dispatch.objects.create(
        incident=incident,
        tier=tier,
        unit=party if isinstance(party, Unit) else None,
        resource=party if isinstance(party, EmergencyResource) else None,
        asked_at=at,
        asked_by=actor,
        deadline_at=None if tier in UNTIMED_TIERS else at + conf.respond_within(),
        note=note,
    )
    _log(
        incident,
        dispatch,
        actor,
        at,
        f"派单 / asked: {party.name}" + (f" — {note}" if note else ""),
    )
    audit.record(actor, "dispatch.asked", dispatch, region_code=incident.region_id)
    if incident.state == IncidentState.REPORTED:
        move_incident(incident, IncidentState.DISPATCHED, actor=actor, at=at, dispatch=dispatch)
    return dispatch


def _log(
    incident: Incident, dispatch: Dispatch | None, actor: User | None, at: dt.datetime, note: str
) -> None:
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.DISPATCH,
        at=at,
        actor=actor,
        note=note,
        dispatch=dispatch,
    )


def next_party(incident: Incident) -> tuple[str, Party] | None:
    """The first tier after the last one asked that has somebody to ask."""
    asked = [TIER_ORDER.index(d.tier) for d in incident.dispatches.all()]
    for tier in TIER_ORDER[max(asked) + 1 if asked else 0 :]:
        party = pick_party(incident, tier)
        if party is not None:
            return tier, party
    return None


def _ask_next(
    incident: Incident, *, actor: User | None, at: dt.datetime, why: str
) -> Dispatch | None:
    found = next_party(incident)
    if found is None:
        _log(incident, None, actor, at, f"无可派单位 / nobody left to ask ({why})")
        return None
    return _ask(incident, *found, actor=actor, at=at, note=why)


def _refuse_ended(incident: Incident) -> None:
    if incident.state in ENDED_STATES:
        refuse(
            "incident",
            "incident.ended",
            f"事件已{IncidentState(incident.state).label}，不能再派单或应答 / the incident has "
            f"ended ({incident.state}): nobody can be asked or answer",
        )


def _not_found(field: str, value: int) -> None:
    refuse(
        field,
        f"{field}.not_found",
        f"在您的响应辖区内未找到 {field} {value} / no {field} {value} in your response area",
    )


def _named_party(
    incident: Incident, user: User, tier: str | None, unit_id: int | None, resource_id: int | None
) -> tuple[str, Party]:
    """A party the responder names, and its tier (given, or what the party is)."""
    if unit_id is not None:
        device = incident.equipment
        if device is not None and device.maintenance_unit_id == unit_id:
            party, wanted = device.maintenance_unit, DispatchTier.CONTRACTED
        else:
            # Another county's unit answers like a missing one: its existence is not disclosed.
            party = Unit.objects.visible_to(user).filter(pk=unit_id).first()
            if party is None:
                _not_found("unit", unit_id)
            if UnitRole.MAINTENANCE not in party.roles:
                refuse("unit", "unit.role", "只能派单给维保单位 / only maintenance units are asked")
            wanted = DispatchTier.NEAREST_MAINTENANCE
        field = "unit"
    else:
        party = EmergencyResource.objects.visible_to(user).filter(pk=resource_id).first()
        if party is None:
            _not_found("resource", resource_id)
        by_type = {kind: tier for tier, kind in RESOURCE_TIERS.items()}
        if party.resource_type not in by_type:
            refuse(
                "resource",
                "resource.type",
                "只能派单给救援队伍或消防救援站 / only rescue teams and fire stations are asked",
            )
        wanted, field = by_type[party.resource_type], "resource"
    if tier is not None and tier != wanted:
        refuse(
            "tier", "tier.party", f"该单位属于 {wanted} 梯次 / this party belongs to tier {wanted}"
        )
    already = incident.dispatches.pending().filter(**{field: party}).exists()
    if already:
        refuse(field, f"{field}.pending", "已派单，尚未应答 / already asked and not yet answered")
    return wanted, party


def dispatch_incident(
    incident_id: int,
    *,
    acting_user: User,
    tier: str | None = None,
    unit_id: int | None = None,
    resource_id: int | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Dispatch:
    """Ask for help: the named party, else the nearest party of the named tier, else the next
    tier's. The first ask moves a reported incident to dispatched."""
    check_actor(acting_user)
    note = check_note(note)
    if tier is not None and tier not in DispatchTier.values:
        refuse(
            "tier",
            "tier.unknown",
            f"未知梯次 {tier[:30]!r} / unknown tier; tiers: {', '.join(DispatchTier.values)}",
        )
    if unit_id is not None and resource_id is not None:
        refuse("unit", "party.one", "请只给出 unit 或 resource 之一 / give a unit or a resource")
    with transaction.atomic():
        incident = lock_incident(incident_id, acting_user)
        _refuse_ended(incident)
        at = check_time(at, "at", after=incident.dispatched_at or incident.reported_at)
        if unit_id is not None or resource_id is not None:
            tier, party = _named_party(incident, acting_user, tier, unit_id, resource_id)
        elif tier is not None:
            party = pick_party(incident, tier)
            if party is None:
                refuse(
                    "tier",
                    "tier.nobody",
                    f"该梯次无可派单位 / nobody of tier {tier} is left to ask for this incident",
                )
        else:
            found = next_party(incident)
            if found is None:
                refuse("tier", "tier.nobody", "各梯次均已派单 / every tier has been asked")
            tier, party = found
        return _ask(incident, tier, party, actor=acting_user, at=at, note=note)


def answer_dispatch(
    dispatch_id: int,
    answer: str,
    *,
    acting_user: User,
    note: str = "",
    at: dt.datetime | None = None,
) -> Dispatch:
    """Record an asked party's answer. The first to respond moves the incident to responded; a
    refusal asks the next tier at once unless another ask is still open."""
    check_actor(acting_user)
    note = check_note(note)
    if answer not in DispatchAnswer.values:
        refuse(
            "answer",
            "answer.unknown",
            f"应答应为 {' 或 '.join(DispatchAnswer.values)} / answer is one of "
            + ", ".join(DispatchAnswer.values),
        )
    with transaction.atomic():
        found = Dispatch.objects.visible_to(acting_user).filter(pk=dispatch_id).first()
        if found is None:
            raise Dispatch.DoesNotExist
        incident = lock_incident(found.incident_id, acting_user)
        dispatch = incident.dispatches.select_related("unit", "resource").get(pk=dispatch_id)
        _refuse_ended(incident)
        if dispatch.status != "pending":
            refuse(
                "answer",
                "answer.already",
                f"该派单已是 {dispatch.status} / this ask has already ended: {dispatch.status}; "
                "ask the party again",
            )
        at = check_time(at, "at", after=dispatch.asked_at)
        before = audit.snapshot(dispatch)
        field = "responded_at" if answer == DispatchAnswer.RESPONDED else "declined_at"
        setattr(dispatch, field, at)
        dispatch.save(update_fields=[field])
        label = DispatchAnswer(answer).label
        _log(
            incident,
            dispatch,
            acting_user,
            at,
            f"{label}: {dispatch.party.name}" + (f" — {note}" if note else ""),
        )
        audit.record(
            acting_user,
            f"dispatch.{answer}",
            dispatch,
            before=before,
            region_code=incident.region_id,
        )
        if incident.state == IncidentState.DISPATCHED:
            if answer == DispatchAnswer.RESPONDED:
                move_incident(
                    incident, IncidentState.RESPONDED, actor=acting_user, at=at, dispatch=dispatch
                )
            elif not incident.dispatches.pending().exists():
                _ask_next(incident, actor=acting_user, at=at, why=f"{dispatch.tier} declined")
    return dispatch


def cancel_dispatch(
    dispatch_id: int, *, acting_user: User, reason: str, at: dt.datetime | None = None
) -> Dispatch:
    """Withdraw an open ask (the party cannot be reached, help came another way), with a reason.
    Nobody is asked in its place: the desk asks the next tier when it wants one."""
    check_actor(acting_user)
    reason = check_reason(reason, what="撤销")
    with transaction.atomic():
        found = Dispatch.objects.visible_to(acting_user).filter(pk=dispatch_id).first()
        if found is None:
            raise Dispatch.DoesNotExist
        incident = lock_incident(found.incident_id, acting_user)
        dispatch = incident.dispatches.select_related("unit", "resource").get(pk=dispatch_id)
        _refuse_ended(incident)
        if dispatch.status != "pending":
            refuse(
                "dispatch",
                "dispatch.ended",
                f"该派单已是 {dispatch.status}，不能撤销 / this ask has already ended "
                f"({dispatch.status}): only an open ask is cancelled",
            )
        at = check_time(at, "at", after=dispatch.asked_at)
        cancel_ask(incident, dispatch, actor=acting_user, at=at, reason=reason)
    return dispatch


def escalate_due(now: dt.datetime | None = None) -> list[Dispatch]:
    """Time out every ask whose deadline has passed unanswered, and ask the next tier for each
    incident still waiting for a response; the new asks, in order.

    Each incident is its own transaction under its row lock, and its expired asks are read again
    under the lock: a second runner waits, then finds them already timed out and does nothing.
    """
    now = now or timezone.now()
    asked: list[Dispatch] = []
    waiting = Dispatch.objects.due(now).order_by().values_list("incident_id", flat=True).distinct()
    for incident_id in list(waiting):
        with transaction.atomic():
            incident = lock_incident(incident_id, None)
            expired = list(incident.dispatches.due(now).select_related("unit", "resource"))
            for dispatch in expired:
                before = audit.snapshot(dispatch)
                dispatch.timed_out_at = dispatch.deadline_at
                dispatch.save(update_fields=["timed_out_at"])
                _log(
                    incident,
                    dispatch,
                    None,
                    dispatch.deadline_at,
                    f"超时未应答 / no answer in time: {dispatch.party.name}",
                )
                audit.record(
                    None, "dispatch.timed_out", dispatch, before=before,
                    region_code=incident.region_id,
                )  # fmt: skip
            if (
                expired
                and incident.state == IncidentState.DISPATCHED
                and not incident.dispatches.pending().exists()
            ):
                new = _ask_next(incident, actor=None, at=now, why=f"{expired[-1].tier} timed out")
                if new is not None:
                    asked.append(new)
    return asked
