"""Every write of emergency response: reporting an incident, moving it along its states, notes,
and the audit row for each disclosure of personal data. Atomic and audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts import audit, policy
from accounts.models import User
from geo.models import Region
from geo.scoping import Scope

from . import conf
from .exceptions import refuse
from .locate import Located
from .models import (
    ENDED_STATES,
    STATE_TIMESTAMPS,
    TRANSITIONS,
    Dispatch,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentGrant,
    IncidentState,
)

# Clocks of a browser and the server disagree a little: a time this far ahead is still "now".
CLOCK_SKEW = dt.timedelta(minutes=2)
MAX_NOTE = 2000


def may_respond(user: User | None) -> bool:
    """The roles that take emergency calls and move incidents along (accounts/policy.py)."""
    return policy.may(user, policy.Action.RESPOND)


def check_actor(acting_user: User) -> None:
    policy.require(acting_user, policy.Action.RESPOND)


def owns(user: User, incident: Incident) -> bool:
    """Whether the incident lies in the user's own jurisdiction (not merely shared with it)."""
    return Scope.of(user).contains(incident.region_id)


def check_owned(incident: Incident, acting_user: User) -> None:
    if not owns(acting_user, incident):
        refuse(
            "incident",
            "incident.shared",
            "该事件由其他辖区共享给您，只能查看 / another jurisdiction shares this incident with "
            "you to read; its own responders act on it",
        )


def check_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        refuse(
            "note",
            "note.length",
            f"备注最长 {MAX_NOTE} 字 / a note has at most {MAX_NOTE} characters",
        )
    return note


def check_time(at: dt.datetime | None, field: str, *, after: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    if at is None:
        return max(now, after) if after else now
    if timezone.is_naive(at):
        refuse(field, f"{field}.timezone", "时间须带时区 / give the time with its time zone")
    if at > now + CLOCK_SKEW:
        refuse(field, f"{field}.future", "时间不能晚于现在 / the time cannot be in the future")
    if after is not None and at < after:
        refuse(
            field,
            f"{field}.order",
            f"时间不能早于上一步 {after.isoformat()} / the time cannot be before the previous step",
        )
    return at


@transaction.atomic
def report_incident(
    located: Located,
    *,
    acting_user: User,
    query: str = "",
    fault_code: str = "",
    summary: str = "",
    address: str = "",
    reported_at: dt.datetime | None = None,
) -> Incident:
    """Open an incident where it was located; the located point is already in the user's area."""
    check_actor(acting_user)
    if len(fault_code) > 8:
        refuse(
            "fault_code",
            "fault_code.length",
            "故障代码最长8位 / a fault code has at most 8 characters",
        )
    if len(address) > 200:
        refuse("address", "address.length", "地点最长200字 / an address has at most 200 characters")
    if len(query) > 200:
        query = query[:200]
    reported_at = check_time(reported_at, "reported_at", after=None)
    incident = Incident.objects.create(
        reported_at=reported_at,
        location=located.point,
        source_crs=located.source_crs.value,
        located_by=located.how,
        query=query,
        region=located.region,
        equipment=located.equipment,
        unit=located.unit or (located.equipment.use_unit if located.equipment else None),
        fault_code=fault_code.strip(),
        summary=check_note(summary),
        address=address.strip() or _address_of(located),
        reported_by=acting_user,
    )
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.REPORTED,
        at=reported_at,
        actor=acting_user,
        to_state=IncidentState.REPORTED,
        note=incident.summary,
    )
    audit.record(acting_user, "incident.reported", incident)
    return incident


def _address_of(located: Located) -> str:
    if located.equipment is not None and located.equipment.address:
        return located.equipment.address
    if located.unit is not None:
        return located.unit.address
    return ""


def change_incident_state(
    incident_id: int,
    to_state: str,
    *,
    acting_user: User,
    note: str = "",
    at: dt.datetime | None = None,
) -> Incident:
    """Move an incident to its next state, stamping the time; refused unless the move is allowed
    from the state the incident is in now.

    The row is locked for the check and the write: of two responders moving one incident at once,
    the second waits for the first and then checks against the state the first left, so no change
    is lost and the timeline reads as one sequence.
    """
    check_actor(acting_user)
    if to_state not in IncidentState.values:
        refuse(
            "state",
            "state.unknown",
            f"未知状态 {to_state!r} / unknown state; states: {', '.join(IncidentState.values)}",
        )
    note = check_note(note)
    with transaction.atomic():
        incident = lock_incident(incident_id, acting_user)
        from_state = incident.state
        if to_state not in TRANSITIONS[from_state]:
            allowed = ", ".join(sorted(TRANSITIONS[from_state])) or "—"
            refuse(
                "state",
                "state.transition",
                f"事件处于“{IncidentState(from_state).label}”，不能转为“{IncidentState(to_state).label}” "
                f"/ an incident in state {from_state} cannot move to {to_state}; allowed: {allowed}",
            )
        previous = getattr(incident, STATE_TIMESTAMPS[from_state])
        at = check_time(at, "at", after=previous)
        move_incident(incident, to_state, actor=acting_user, at=at, note=note)
    return incident


def lock_incident(incident_id: int, acting_user: User | None) -> Incident:
    """The incident row, locked until the transaction ends: every write to an incident (its state,
    its dispatches) takes this lock first, so concurrent writers see each other's result.
    Without a user (the escalation runner) the incident is not scoped."""
    incidents = (
        Incident.objects.all() if acting_user is None else Incident.objects.visible_to(acting_user)
    )
    # `of=("self",)`: the shared-incident subquery must not lock the grants it reads.
    incident = incidents.select_for_update(of=("self",)).filter(pk=incident_id).first()
    if incident is None:
        raise Incident.DoesNotExist
    if acting_user is not None:
        check_owned(incident, acting_user)
    return incident


def move_incident(
    incident: Incident,
    to_state: str,
    *,
    actor: User | None,
    at: dt.datetime,
    note: str = "",
    dispatch=None,
) -> None:
    """Stamp and record an allowed move of an incident the caller has locked. Ending it (closed,
    false alarm) first cancels every ask still open: nobody is waited for on an ended incident."""
    if to_state in ENDED_STATES:
        reason = f"事件{IncidentState(to_state).label} / the incident was {to_state}"
        for ask in incident.dispatches.pending().select_related("unit", "resource"):
            cancel_ask(incident, ask, actor=actor, at=at, reason=reason)
    before = audit.snapshot(incident)
    from_state = incident.state
    field = STATE_TIMESTAMPS[to_state]
    setattr(incident, field, at)
    incident.state = to_state
    incident.save(update_fields=["state", field, "updated_at"])
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.STATE_CHANGE,
        at=at,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        note=note,
        dispatch=dispatch,
    )
    audit.record(actor, f"incident.{to_state}", incident, before=before)


MAX_REASON = 500


def check_reason(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        refuse("reason", "reason.required", f"请说明{what}事由 / say why")
    if len(reason) > MAX_REASON:
        refuse(
            "reason", "reason.length", f"事由最长 {MAX_REASON} 字 / at most {MAX_REASON} characters"
        )
    return reason


def cancel_ask(
    incident: Incident, ask: Dispatch, *, actor: User | None, at: dt.datetime, reason: str
) -> None:
    """End an open ask of an incident the caller has locked, on the timeline and in the audit log."""
    before = audit.snapshot(ask)
    ask.cancelled_at, ask.cancelled_by, ask.cancel_reason = at, actor, reason
    ask.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.DISPATCH,
        at=at,
        actor=actor,
        note=f"撤销派单 / ask cancelled: {ask.party.name} — {reason}",
        dispatch=ask,
    )
    audit.record(actor, "dispatch.cancelled", ask, before=before, region_code=incident.region_id)


@transaction.atomic
def add_incident_note(
    incident: Incident, note: str, *, acting_user: User, at: dt.datetime | None = None
) -> IncidentEvent:
    """A note on the timeline, which is also how an ended incident is annotated."""
    check_actor(acting_user)
    check_owned(incident, acting_user)
    note = check_note(note)
    if not note:
        refuse("note", "note.required", "备注不能为空 / the note is empty")
    event = IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.NOTE,
        at=check_time(at, "at", after=incident.reported_at),
        actor=acting_user,
        note=note,
    )
    audit.record(acting_user, "incident.noted", event, region_code=incident.region_id)
    return event


@transaction.atomic
def grant_incident(
    incident_id: int, *, grantee_code: str, hours: float, reason: str, acting_user: User
) -> IncidentGrant:
    """Share one incident with another jurisdiction for a few hours (跨辖区授权), on the timeline
    and in the audit log."""
    check_actor(acting_user)
    incident = lock_incident(incident_id, acting_user)
    reason = check_reason(reason, what="授权")
    longest = float(conf.value("RESPONSE_GRANT_MAX_HOURS"))
    if not 0 < hours <= longest:
        refuse(
            "hours",
            "hours.range",
            f"授权时长须大于 0 且不超过 {longest:g} 小时 / a grant lasts more than 0 and at most "
            f"{longest:g} hours",
        )
    grantee = Region.objects.defer("boundary").filter(code=(grantee_code or "").strip()).first()
    if grantee is None:
        refuse("grantee", "grantee.unknown", f"未知区划 / unknown division {grantee_code!r:.40}")
    if Scope(grantee.code_prefix).contains(incident.region_id):
        refuse(
            "grantee",
            "grantee.already_sees",
            f"{grantee.name}已能查看本辖区事件 / {grantee.code} sees this incident already",
        )
    now = timezone.now()
    grant = IncidentGrant.objects.create(
        incident=incident,
        grantee=grantee,
        reason=reason,
        granted_by=acting_user,
        granted_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    IncidentEvent.objects.create(
        incident=incident,
        kind=IncidentEventKind.NOTE,
        at=now,
        actor=acting_user,
        note=f"共享给{grantee.name}（{grantee.code}）至 {timezone.localtime(grant.expires_at):%Y-%m-%d %H:%M} "
        f"/ shared with {grantee.code} until then: {reason}",
    )
    audit.record(acting_user, "incident.shared", grant, region_code=incident.region_id)
    return grant


@transaction.atomic
def revoke_grant(grant_id: int, *, acting_user: User) -> IncidentGrant:
    """End a share before it expires; only the incident's own jurisdiction may."""
    check_actor(acting_user)
    grant = IncidentGrant.objects.visible_to(acting_user).filter(pk=grant_id).first()
    if grant is None:
        raise IncidentGrant.DoesNotExist
    lock_incident(grant.incident_id, acting_user)
    grant.refresh_from_db()
    if grant.status != "active":
        refuse("grant", "grant.ended", "该授权已结束 / the grant has already ended")
    before = audit.snapshot(grant)
    grant.revoked_at, grant.revoked_by = timezone.now(), acting_user
    grant.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        acting_user,
        "incident.share_revoked",
        grant,
        before=before,
        region_code=grant.incident.region_id,
    )
    return grant


def record_shared_read(user: User, incident: Incident) -> None:
    """An audit row when a user reads an incident through a grant rather than jurisdiction."""
    if not owns(user, incident):
        audit.record(
            user, "incident.read_shared", incident, after={}, region_code=incident.region_id
        )
