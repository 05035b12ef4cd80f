"""API shapes: what a caller sends to report and move incidents, and what the answers carry."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
from registry.models import Equipment
from registry.models.events import CauseClass, Severity

from .around import place_json
from .locate import Located
from .models import (
    Dispatch,
    DispatchAnswer,
    DispatchTier,
    Incident,
    IncidentEvent,
    IncidentGrant,
    IncidentState,
)


class IncidentReportSerializer(serializers.Serializer):
    """Where (one of point with crs, click, equipment, unit) and what was reported.

    Records are named by id, not by choice fields: the browsable API would otherwise draw a form
    listing every device and unit in the country.
    """

    point = serializers.CharField(required=False, allow_blank=True, max_length=80)
    crs = serializers.CharField(required=False, allow_blank=True, max_length=40)
    click = serializers.CharField(required=False, allow_blank=True, max_length=80)
    equipment = serializers.CharField(required=False, allow_blank=True, max_length=20)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=20)
    query = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    fault_code = serializers.CharField(required=False, allow_blank=True, max_length=8, default="")
    summary = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    address = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    reported_at = serializers.DateTimeField(required=False)


class TransitionSerializer(serializers.Serializer):
    state = serializers.CharField(max_length=20, help_text=", ".join(IncidentState.values))
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    at = serializers.DateTimeField(required=False, help_text="when it happened; now if not given")


class GrantSerializer(serializers.Serializer):
    """Share the incident with another jurisdiction for a few hours."""

    grantee = serializers.CharField(max_length=12, help_text="six-digit division code")
    hours = serializers.FloatField(help_text="how long the grant lasts, in hours")
    reason = serializers.CharField(max_length=500, allow_blank=True)


class RevokeSerializer(serializers.Serializer):
    """Nothing to give: the grant ends now."""


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="why the ask is withdrawn (required)")
    at = serializers.DateTimeField(required=False, help_text="when cancelled; now if not given")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)
    at = serializers.DateTimeField(required=False)


class DispatchSerializer(serializers.Serializer):
    """Ask for help. Nothing named: the next tier. A tier: its nearest party. A unit or resource:
    that party (its tier follows from what it is)."""

    tier = serializers.CharField(
        required=False, allow_blank=True, max_length=30, help_text=", ".join(DispatchTier.values)
    )
    unit = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    resource = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    at = serializers.DateTimeField(required=False, help_text="when asked; now if not given")


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=20, help_text=", ".join(DispatchAnswer.values))
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    at = serializers.DateTimeField(required=False, help_text="when answered; now if not given")


class AccidentConversionSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=32)
    deaths = serializers.IntegerField(required=False, min_value=0, max_value=10_000, default=0)
    injuries = serializers.IntegerField(required=False, min_value=0, max_value=10_000, default=0)
    flagged = serializers.BooleanField(required=False, default=False)
    severity = serializers.ChoiceField(Severity.choices, required=False, default=Severity.ORDINARY)
    cause_class = serializers.ChoiceField(
        CauseClass.choices, required=False, default=CauseClass.OTHER
    )
    direct_loss = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, default=0
    )
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default=""
    )


def equipment_brief(device: Equipment | None) -> dict | None:
    if device is None:
        return None
    return {
        "id": device.pk,
        "device_code": device.device_code or "",
        "registration_code": device.registration_code,
        "certificate_number": device.certificate_number,
        "rescue_id": device.rescue_id,
        "variety": device.variety_id,
        "variety_name": device.variety.name_zh,
        "variety_name_en": device.variety.name_en,
        "address": device.address,
        "use_unit": device.use_unit.name,
    }


def located_json(located: Located) -> dict:
    unit = located.unit
    return {
        "how": located.how,
        **place_json(located),
        "source_crs": located.source_crs.value,
        "given": list(located.given) if located.given else None,
        "approximate": located.approximate,
        "equipment": equipment_brief(located.equipment),
        "unit": {"id": unit.pk, "name": unit.name, "address": unit.address} if unit else None,
    }


def _username(user: User | None) -> str:
    return user.get_username() if user is not None else ""


def event_json(event: IncidentEvent) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "at": event.at,
        "actor": _username(event.actor),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "note": event.note,
        "recorded_at": event.recorded_at,
    }


def incident_json(incident: Incident, *, detail: bool = False) -> dict:
    """An incident; with `detail`, its timeline and dispatches (prefetched by the caller)."""
    device, unit = incident.equipment, incident.unit
    body = {
        "id": incident.pk,
        "state": incident.state,
        "state_label": incident.get_state_display(),
        "allowed_states": incident.allowed_states,
        "reported_at": incident.reported_at,
        "dispatched_at": incident.dispatched_at,
        "responded_at": incident.responded_at,
        "arrived_at": incident.arrived_at,
        "released_at": incident.released_at,
        "closed_at": incident.closed_at,
        "lon": incident.location.x,
        "lat": incident.location.y,
        "source_crs": incident.source_crs,
        "located_by": incident.located_by,
        "query": incident.query,
        "region": {"code": incident.region_id, "name": incident.region.name},
        "equipment": {"id": device.pk, "code": device.device_code or device.registration_code}
        if device
        else None,
        "unit": {"id": unit.pk, "name": unit.name} if unit else None,
        "fault_code": incident.fault_code,
        "summary": incident.summary,
        "address": incident.address,
        "reported_by": _username(incident.reported_by),
        # Another jurisdiction's incident shared with the reader: read only.
        "shared": getattr(incident, "shared", False),
    }
    if detail:
        body["events"] = [event_json(e) for e in incident.events.all()]
        body["dispatches"] = [dispatch_json(d) for d in incident.dispatches.all()]
        body["accident"] = incident.accident_id
    return body


def dispatch_json(dispatch: Dispatch) -> dict:
    """An ask, with the party's name (units and resources are prefetched by the caller)."""
    party = dispatch.party
    return {
        "id": dispatch.pk,
        "tier": dispatch.tier,
        "tier_label": dispatch.get_tier_display(),
        "unit": dispatch.unit_id,
        "resource": dispatch.resource_id,
        "party": party.name,
        "lon": party.location.x if party.location else None,
        "lat": party.location.y if party.location else None,
        "status": dispatch.status,
        "asked_at": dispatch.asked_at,
        "asked_by": _username(dispatch.asked_by),
        "deadline_at": dispatch.deadline_at,
        "responded_at": dispatch.responded_at,
        "declined_at": dispatch.declined_at,
        "timed_out_at": dispatch.timed_out_at,
        "cancelled_at": dispatch.cancelled_at,
        "cancel_reason": dispatch.cancel_reason,
        "note": dispatch.note,
    }


def grant_json(grant: IncidentGrant) -> dict:
    return {
        "id": grant.pk,
        "incident": grant.incident_id,
        "grantee": {"code": grant.grantee_id, "name": grant.grantee.name},
        "reason": grant.reason,
        "granted_by": _username(grant.granted_by),
        "granted_at": grant.granted_at,
        "expires_at": grant.expires_at,
        "revoked_at": grant.revoked_at,
        "revoked_by": _username(grant.revoked_by),
        "status": grant.status,
    }


# --------------------------------------------------------------------------- answers


class ResourceContactSerializer(serializers.Serializer):
    """A resource's contact as ResourceContact answers it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    contact_name = serializers.CharField(allow_blank=True)
    contact_phone = serializers.CharField(
        allow_blank=True, help_text="masked unless your role may read personal data"
    )
    masked = serializers.BooleanField()
    duty_hours = serializers.CharField(allow_blank=True)


class LocateSerializer(serializers.Serializer):
    """Locate's answer: the places found, best first."""

    count = serializers.IntegerField()
    matches = serializers.ListField(child=serializers.DictField())


class IncidentStatesSerializer(serializers.Serializer):
    """An incident's state and the states it may move to now."""

    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=IncidentState.choices)
    allowed_states = serializers.ListField(child=serializers.ChoiceField(IncidentState.choices))


class AccidentMadeSerializer(serializers.Serializer):
    """The accident an incident became."""

    accident = serializers.IntegerField()
    incident = serializers.IntegerField()
