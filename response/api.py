"""The response JSON API under /response/api/: locate, what is around, incidents and their timeline.

Views parse, call `locate`/`around`/`services`, and serialize. Every read starts from the caller's
jurisdiction; another jurisdiction's record answers exactly like a missing one. Bad input is a 400
naming the parameter (ResponseError, through the project's exception handler).
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, Value
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit
from accounts.models import Role
from layers.detail_views import phone_for
from registry.models import EmergencyResource, Equipment

from . import around, conversion, dispatch, locate, services
from .card import equipment_card
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
    AnswerSerializer,
    DispatchSerializer,
    GrantSerializer,
    IncidentReportSerializer,
    NoteSerializer,
    RevokeSerializer,
    TransitionSerializer,
    dispatch_json,
    event_json,
    grant_json,
    incident_json,
    located_json,
)

TAGS = ["response"]


class MayRead(BasePermission):
    """Signed in with a jurisdiction; enterprise users see no incidents (they are the other side)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.jurisdiction_prefix is not None
            and user.role != Role.ENTERPRISE
        )


class MayRespondToWrite(BasePermission):
    """Writes only for the roles that take calls (responders, supervisors, administrators)."""

    def has_permission(self, request, view) -> bool:
        return request.method in ("GET", "HEAD", "OPTIONS") or services.may_respond(request.user)


PERMISSIONS = [MayRead, MayRespondToWrite]


def _param(name: str, description: str, **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.QUERY, description=description, **kwargs)


WHERE_PARAMETERS = [
    _param("point", "lon,lat in the coordinate system `crs`"),
    _param("crs", "wgs84 (default), cgcs2000, gcj02 (Amap, Tencent) or bd09 (Baidu)"),
    _param("click", "lon,lat of a map click, WGS84"),
]
LOCATE_PARAMETERS = [
    *WHERE_PARAMETERS,
    _param("code", "96333 rescue ID, device code, registration code or use-certificate number"),
    _param("unit", "part of a registered unit's name, or else of its address"),
    _param("q", "any of the above in one search box: coordinates, then codes, then units"),
]
AROUND_PARAMETERS = [
    *WHERE_PARAMETERS,
    _param("equipment", "id of the equipment involved: its place, and its card in the answer"),
]
RADIUS = _param("radius", "metres; overrides the per-kind hazard radii (at most 50 km)")
KIND = _param("kind", "comma list of kind codes (X000) and/or `filling`; default: the hazard table")
K = _param("k", "resources per type, 1–20 (default 3)")
TYPE = _param("type", "comma list of resource types; default: all")


def _spliced(head: dict, **members: str) -> str:
    """A JSON object of `head`'s members and then `members`, whose values are JSON text built by
    the database: spliced in as written, not parsed and rendered again (a long answer would spend
    more time on that than on its query)."""
    text = json.dumps(head, cls=DjangoJSONEncoder, ensure_ascii=False)
    tail = "".join(f",{json.dumps(name)}:{value}" for name, value in members.items())
    return text[:-1] + (tail if head else tail[1:]) + "}"


def _json_response(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="application/json")


class Locate(APIView):
    """Where an incident is, by exactly one of point (+crs), click, code, unit or q."""

    permission_classes = PERMISSIONS

    @extend_schema(tags=TAGS, parameters=LOCATE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        matches = locate.locate(request.user, request.query_params)
        return Response({"count": len(matches), "matches": [located_json(m) for m in matches]})


def _where(request: Request) -> locate.Located:
    """The point an `around` request is about: point (+crs), click, or the equipment involved."""
    params = request.query_params
    given = [name for name in ("point", "click", "equipment") if params.get(name, "").strip()]
    if len(given) != 1:
        refuse(
            "point",
            "query.one_way",
            "请给出且只给出 point、click 或 equipment 之一 / give exactly one of point, click or "
            "equipment",
        )
    return locate.for_incident(
        request.user,
        point=params.get("point", "").strip(),
        system=params.get("crs"),
        click=params.get("click", "").strip(),
        equipment=params.get("equipment", "").strip() or None,
    )


class AroundResources(APIView):
    """The nearest emergency resources of each type, geodesic distance and estimated arrival."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS, parameters=[*WHERE_PARAMETERS, K, TYPE], responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        k, types = around.parse_k(params.get("k")), around.parse_types(params.get("type"))
        where = _where(request)
        speed, found = around.resources_around(request.user, where, k=k, types=types)
        return Response(
            {**around.place_json(where), "k": k, "speed_kmh": speed, "resources": found}
        )


class AroundEquipment(APIView):
    """Hazardous equipment (and filling stations) within the radius their kind calls for."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS, parameters=[*WHERE_PARAMETERS, RADIUS, KIND], responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        radius = around.parse_radius(params.get("radius"))
        radii = around.radii_for(around.parse_kinds(params.get("kind")), radius)
        where = _where(request)
        found, items = around.hazards_around(request.user, where, radii)
        return _json_response(_spliced({**around.place_json(where), **found}, items=items))


class Around(APIView):
    """Everything at once: the equipment involved (when given), hazards nearby, nearest resources."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS,
        parameters=[*AROUND_PARAMETERS, RADIUS, KIND, K, TYPE],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        params, user = request.query_params, request.user
        radius = around.parse_radius(params.get("radius"))
        radii = around.radii_for(around.parse_kinds(params.get("kind")), radius)
        k, types = around.parse_k(params.get("k")), around.parse_types(params.get("type"))
        device_id = params.get("equipment", "").strip()
        where = locate.for_incident(
            user,
            point=params.get("point", "").strip(),
            system=params.get("crs"),
            click=params.get("click", "").strip(),
            equipment=device_id or None,
        )
        speed, resources = around.resources_around(user, where, k=k, types=types)
        found, items = around.hazards_around(user, where, radii)
        card = None
        if where.equipment is not None:
            card = equipment_card(user, _card_device(user, where.equipment.pk), purpose="around")
        head = {
            **around.place_json(where),
            "equipment": card,
            "k": k,
            "speed_kmh": speed,
            "resources": resources,
        }
        return _json_response(_spliced(head, hazards=_spliced(found, items=items)))


def card_queryset(user):
    return Equipment.objects.visible_to(user).select_related(
        "variety", "region", "use_unit", "maintenance_unit"
    )


def _card_device(user, pk: int) -> Equipment:
    return card_queryset(user).get(pk=pk)


class RecordView(GenericAPIView):
    """One record of the user's jurisdiction by `pk` (another's is a 404): `model` names it."""

    permission_classes = PERMISSIONS
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)


class EquipmentCard(RecordView):
    """The equipment involved: use and maintenance units with contacts, last inspection, accidents."""

    model = Equipment

    def get_queryset(self):
        return card_queryset(self.request.user)

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        device = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(equipment_card(request.user, device, purpose="equipment card"))


class ResourceContact(RecordView):
    """A resource's contact, to call it: the full phone for roles with personal data (audited)."""

    model = EmergencyResource

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        resource = get_object_or_404(self.get_queryset(), pk=pk)
        user = request.user
        if user.may_read_personal_data and resource.contact_phone:
            audit.record_personal_data_read(
                user, [resource], ("contact_name", "contact_phone"), "resource contact"
            )
        return Response(
            {
                "id": resource.pk,
                "name": resource.name,
                "contact_name": resource.contact_name,
                "contact_phone": phone_for(user, resource.contact_phone),
                "masked": not user.may_read_personal_data,
                "duty_hours": resource.duty_hours,
            }
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
        parameters=[_param("state", "open, ended, or one of " + ", ".join(IncidentState.values))],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([incident_json(i) for i in page])

    @extend_schema(tags=TAGS, request=IncidentReportSerializer, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        services.record_shared_read(request.user, incident)
        return Response(incident_json(incident, detail=True))


class IncidentTransition(RecordView):
    """GET: the states the incident may move to now. POST {state, note, at}: move it."""

    model = Incident
    serializer_class = TransitionSerializer

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(
            {"id": incident.pk, "state": incident.state, "allowed_states": incident.allowed_states}
        )

    @extend_schema(tags=TAGS, request=TransitionSerializer, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        services.record_shared_read(request.user, incident)
        events = incident.events.select_related("actor")
        return Response({"id": incident.pk, "events": [event_json(e) for e in events]})

    @extend_schema(tags=TAGS, request=NoteSerializer, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, request=DispatchSerializer, responses=OpenApiTypes.OBJECT)
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


class DispatchAnswerView(RecordView):
    """POST {answer: responded|declined, note, at}: the asked party's answer."""

    model = Dispatch
    serializer_class = AnswerSerializer

    def get_queryset(self):
        return Dispatch.objects.visible_to(self.request.user).select_related(
            "unit", "resource", "asked_by"
        )

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(dispatch_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, request=AnswerSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        asked = get_object_or_404(self.get_queryset(), pk=pk)
        form = AnswerSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            answered = dispatch.answer_dispatch(
                asked.pk, data["answer"], acting_user=request.user, note=data["note"],
                at=data.get("at"),
            )  # fmt: skip
        except (Dispatch.DoesNotExist, Incident.DoesNotExist):
            raise NotFound() from None
        incident = detailed_incidents(request.user).get(pk=answered.incident_id)
        return Response(
            {"dispatch": dispatch_json(answered), "incident": incident_json(incident, detail=True)}
        )


class IncidentAccident(RecordView):
    """POST {kind, deaths, injuries, flagged, …}: record a closed incident as an accident."""

    model = Incident
    serializer_class = AccidentConversionSerializer

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, request=AccidentConversionSerializer, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        grants = incident.grants.select_related("grantee", "granted_by", "revoked_by")
        return Response({"id": incident.pk, "grants": [grant_json(g) for g in grants]})

    @extend_schema(tags=TAGS, request=GrantSerializer, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(grant_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        grant = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            grant = services.revoke_grant(grant.pk, acting_user=request.user)
        except (IncidentGrant.DoesNotExist, Incident.DoesNotExist):
            raise NotFound() from None
        return Response(grant_json(self.get_queryset().get(pk=grant.pk)))
