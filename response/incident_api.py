"""The incidents part of the response API: report, list and follow incidents along their states,
ask for help along the 96333 tiers and record the answers, convert to an accident, share with
another jurisdiction. Scoped like the rest of the API (`api.RecordView`); bad input is a 400 naming
the field."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, Value
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.policy import Action, Allows

from . import conversion, dispatch, locate, services
from .api import ERRORS, PERMISSIONS, RECORD_ERRORS, TAGS, MayRead, RecordView, documented_param
from .exceptions import refuse
from .models import (
    ENDED_STATES,
    Dispatch,
    Incident,
    IncidentEvent,
    IncidentGrant,
    IncidentState,
)
from .serializers import (
    AccidentConversionSerializer,
    AccidentMadeSerializer,
    AnswerSerializer,
    CancelSerializer,
    DispatchSerializer,
    GrantSerializer,
    IncidentReportSerializer,
    IncidentStatesSerializer,
    NoteSerializer,
    RevokeSerializer,
    TransitionSerializer,
    dispatch_json,
    event_json,
    grant_json,
    incident_json,
)


def _incidents(user):
    prefix = user.jurisdiction_prefix
    shared = (
        ExpressionWrapper(~Q(region__code__startswith=prefix), output_field=BooleanField())
        if prefix
        else Value(False)
    )
    return (
        Incident.objects.visible_to(user)
        .select_related("region", "equipment", "unit", "reported_by")
        .annotate(shared=shared)
    )


STATE_FILTERS = {"open", "ended", *IncidentState.values}


class Incidents(GenericAPIView):
    """Incidents in your jurisdiction, newest first (`state`: open, ended or one state); POST
    reports one."""

    model = Incident
    permission_classes = PERMISSIONS
    filter_backends: list = []
    serializer_class = IncidentReportSerializer

    def get_queryset(self):
        incidents = _incidents(self.request.user)
        wanted = self.request.query_params.get("state", "").strip()
        if not wanted:
            return incidents
        if wanted not in STATE_FILTERS:
            refuse(
                "state",
                "state.unknown",
                f"未知状态 / unknown state {wanted[:30]!r}; use one of: "
                + ", ".join(sorted(STATE_FILTERS)),
            )
        if wanted == "open":
            return incidents.exclude(state__in=ENDED_STATES)
        if wanted == "ended":
            return incidents.filter(state__in=ENDED_STATES)
        return incidents.filter(state=wanted)

    @extend_schema(
        tags=TAGS,
        operation_id="response_api_incidents_list",
        parameters=[
            documented_param("state", "open, ended, or one of " + ", ".join(IncidentState.values))
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([incident_json(i) for i in page])

    @extend_schema(
        tags=TAGS, request=IncidentReportSerializer, responses={201: OpenApiTypes.OBJECT, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        form = IncidentReportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        located = locate.for_incident(
            request.user,
            point=data.get("point", "").strip(),
            system=data.get("crs"),
            click=data.get("click", "").strip(),
            equipment=data.get("equipment", "").strip() or None,
            unit=data.get("unit", "").strip() or None,
        )
        incident = services.report_incident(
            located,
            acting_user=request.user,
            query=data["query"],
            fault_code=data["fault_code"],
            summary=data["summary"],
            address=data["address"],
            reported_at=data.get("reported_at"),
        )
        return Response(
            incident_json(detailed_incidents(request.user).get(pk=incident.pk), detail=True),
            status=status.HTTP_201_CREATED,
        )


def detailed_incidents(user):
    return _incidents(user).prefetch_related(
        Prefetch("events", queryset=IncidentEvent.objects.select_related("actor")),
        Prefetch(
            "dispatches",
            queryset=Dispatch.objects.select_related("unit", "resource", "asked_by"),
        ),
    )


class IncidentDetail(RecordView):
    """One incident with its timeline and dispatches."""

    model = Incident

    def get_queryset(self):
        return detailed_incidents(self.request.user)

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        services.record_shared_read(request.user, incident)
        return Response(incident_json(incident, detail=True))


class IncidentTransition(RecordView):
    """GET: the states the incident may move to now. POST {state, note, at}: move it."""

    model = Incident
    serializer_class = TransitionSerializer

    @extend_schema(tags=TAGS, responses={200: IncidentStatesSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(
            {"id": incident.pk, "state": incident.state, "allowed_states": incident.allowed_states}
        )

    @extend_schema(
        tags=TAGS,
        request=TransitionSerializer,
        responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        form = TransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            services.change_incident_state(
                incident.pk, data["state"], acting_user=request.user, note=data["note"],
                at=data.get("at"),
            )  # fmt: skip
        except Incident.DoesNotExist:
            raise NotFound() from None  # moved out of reach between the two reads
        return Response(incident_json(detailed_incidents(request.user).get(pk=pk), detail=True))


class IncidentEvents(RecordView):
    """GET: the incident's timeline. POST {note, at}: add a note to it."""

    model = Incident
    serializer_class = NoteSerializer

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        services.record_shared_read(request.user, incident)
        events = incident.events.select_related("actor")
        return Response({"id": incident.pk, "events": [event_json(e) for e in events]})

    @extend_schema(
        tags=TAGS, request=NoteSerializer, responses={201: OpenApiTypes.OBJECT, **RECORD_ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        form = NoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        event = services.add_incident_note(
            incident, form.validated_data["note"], acting_user=request.user,
            at=form.validated_data.get("at"),
        )  # fmt: skip
        return Response(event_json(event), status=status.HTTP_201_CREATED)


class IncidentDispatch(RecordView):
    """POST {tier, unit, resource, note, at}: ask for help along the 96333 tiers (nothing named:
    the next tier; a tier: its nearest party; a unit or resource: that party)."""

    model = Incident
    serializer_class = DispatchSerializer

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        """The asks so far, with their deadlines, and whom a POST without names would ask next."""
        incident = get_object_or_404(detailed_incidents(request.user), pk=pk)
        upcoming = None if incident.state in ENDED_STATES else dispatch.next_party(incident)
        return Response(
            {
                "id": incident.pk,
                "state": incident.state,
                "dispatches": [dispatch_json(d) for d in incident.dispatches.all()],
                "next": {"tier": upcoming[0], "party": upcoming[1].name} if upcoming else None,
            }
        )

    @extend_schema(
        tags=TAGS, request=DispatchSerializer, responses={201: OpenApiTypes.OBJECT, **RECORD_ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        form = DispatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            dispatch.dispatch_incident(
                incident.pk, acting_user=request.user, tier=data.get("tier") or None,
                unit_id=data.get("unit"), resource_id=data.get("resource"), note=data["note"],
                at=data.get("at"),
            )  # fmt: skip
        except Incident.DoesNotExist:
            raise NotFound() from None
        return Response(
            incident_json(detailed_incidents(request.user).get(pk=pk), detail=True),
            status=status.HTTP_201_CREATED,
        )


class _DispatchStep(RecordView):
    """GET an ask; POST a step on it (`act`), answered with the ask and its incident."""

    model = Dispatch

    def get_queryset(self):
        return Dispatch.objects.visible_to(self.request.user).select_related(
            "unit", "resource", "asked_by"
        )

    def act(self, asked: Dispatch, data: dict, user) -> Dispatch:
        raise NotImplementedError

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(dispatch_json(get_object_or_404(self.get_queryset(), pk=pk)))

    def post(self, request: Request, pk: int) -> Response:
        asked = get_object_or_404(self.get_queryset(), pk=pk)
        form = self.serializer_class(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            done = self.act(asked, form.validated_data, request.user)
        except (Dispatch.DoesNotExist, Incident.DoesNotExist):
            raise NotFound() from None
        incident = detailed_incidents(request.user).get(pk=done.incident_id)
        return Response(
            {"dispatch": dispatch_json(done), "incident": incident_json(incident, detail=True)}
        )


class DispatchAnswerView(_DispatchStep):
    """POST {answer: responded|declined, note, at}: the asked party's answer."""

    serializer_class = AnswerSerializer

    def act(self, asked, data, user):
        return dispatch.answer_dispatch(
            asked.pk, data["answer"], acting_user=user, note=data["note"], at=data.get("at")
        )

    @extend_schema(
        tags=TAGS, request=AnswerSerializer, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class DispatchCancel(_DispatchStep):
    """POST {reason, at}: the desk withdraws an open ask; nobody is asked in its place."""

    serializer_class = CancelSerializer

    def act(self, asked, data, user):
        return dispatch.cancel_dispatch(
            asked.pk, acting_user=user, reason=data["reason"], at=data.get("at")
        )

    @extend_schema(
        tags=TAGS, request=CancelSerializer, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class IncidentAccident(RecordView):
    """POST {kind, deaths, injuries, flagged, …}: record a closed incident as an accident."""

    model = Incident
    serializer_class = AccidentConversionSerializer
    permission_classes = [MayRead, Allows(Action.RECORD_ACCIDENT)]

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        """The accident it became, if any, and the rule it must meet to become one."""
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(
            {
                "id": incident.pk,
                "state": incident.state,
                "accident": incident.accident_id,
                "rule": conversion.rule(),
            }
        )

    @extend_schema(
        tags=TAGS,
        request=AccidentConversionSerializer,
        responses={201: AccidentMadeSerializer, **RECORD_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        form = AccidentConversionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            accident = conversion.convert_to_accident(
                incident.pk, acting_user=request.user, **form.validated_data
            )
        except Incident.DoesNotExist:
            raise NotFound() from None
        return Response(
            {"accident": accident.pk, "incident": incident.pk}, status=status.HTTP_201_CREATED
        )


class IncidentGrants(RecordView):
    """GET: the incident's cross-jurisdiction grants. POST {grantee, hours, reason}: share the
    incident with another jurisdiction until the grant expires (read only for them; audited)."""

    model = Incident
    serializer_class = GrantSerializer

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        grants = incident.grants.select_related("grantee", "granted_by", "revoked_by")
        return Response({"id": incident.pk, "grants": [grant_json(g) for g in grants]})

    @extend_schema(
        tags=TAGS, request=GrantSerializer, responses={201: OpenApiTypes.OBJECT, **RECORD_ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        form = GrantSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            grant = services.grant_incident(
                incident.pk, grantee_code=data["grantee"], hours=data["hours"],
                reason=data["reason"], acting_user=request.user,
            )  # fmt: skip
        except Incident.DoesNotExist:
            raise NotFound() from None
        return Response(grant_json(grant), status=status.HTTP_201_CREATED)


class GrantRevoke(RecordView):
    """GET: one grant. POST: revoke it before it expires (the incident's own jurisdiction only)."""

    model = IncidentGrant
    serializer_class = RevokeSerializer

    def get_queryset(self):
        return IncidentGrant.objects.visible_to(self.request.user).select_related(
            "grantee", "granted_by", "revoked_by"
        )

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(grant_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, request=None, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        grant = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            grant = services.revoke_grant(grant.pk, acting_user=request.user)
        except (IncidentGrant.DoesNotExist, Incident.DoesNotExist):
            raise NotFound() from None
        return Response(grant_json(self.get_queryset().get(pk=grant.pk)))
