"""The response JSON API under /response/api/: locate, what is around, the equipment card and a
resource's contact (incidents, dispatch and grants: `incident_api`).

Views parse, call `locate`/`around`/`services`, and serialize. Every read starts from the caller's
jurisdiction; another jurisdiction's record answers exactly like a missing one. Bad input is a 400
naming the parameter (ResponseError, through the project's exception handler).
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, QueryDict
from django.utils.cache import patch_cache_control, patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit, map_pass
from accounts.models import Role
from accounts.policy import Action, Allows
from common.api import error_responses
from geo.models import Region
from registry import personal
from registry.models import EmergencyResource, Equipment

from . import around, locate, nearby
from .card import equipment_card
from .exceptions import refuse
from .serializers import (
    LocateSerializer,
    ResourceContactSerializer,
    located_json,
)

TAGS = ["response"]
# Bad input, and a reader the desk refuses; a record view adds the 404 of another jurisdiction's.
ERRORS = error_responses(400, 403)
RECORD_ERRORS = error_responses(400, 403, 404)
# The map pass's views also answer 401 to a refused pass.
PASS_ERRORS = error_responses(400, 401, 403)


def may_read(user) -> bool:
    """Signed in with a jurisdiction; enterprise users see no incidents (they are the other side).
    A user, or the holder of a map pass (which names the role)."""
    return bool(
        user
        and user.is_authenticated
        and user.jurisdiction_prefix is not None
        and user.role != Role.ENTERPRISE
    )


class MayRead(BasePermission):
    def has_permission(self, request, view) -> bool:
        return may_read(request.user)


# Writes only for the roles that take calls (accounts/policy.py).
PERMISSIONS = [MayRead, Allows(Action.RESPOND)]


def documented_param(name: str, description: str, **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.QUERY, description=description, **kwargs)


WHERE_PARAMETERS = [
    documented_param("point", "lon,lat in the coordinate system `crs`"),
    documented_param("crs", "wgs84 (default), cgcs2000, gcj02 (Amap, Tencent) or bd09 (Baidu)"),
    documented_param("click", "lon,lat of a map click, WGS84"),
]
LOCATE_PARAMETERS = [
    *WHERE_PARAMETERS,
    documented_param(
        "code", "96333 rescue ID, device code, registration code or use-certificate number"
    ),
    documented_param("unit", "part of a registered unit's name, or else of its address"),
    documented_param(
        "q", "any of the above in one search box: coordinates, then codes, then units"
    ),
]
AROUND_PARAMETERS = [
    *WHERE_PARAMETERS,
    documented_param(
        "equipment", "id of the equipment involved: its place, and its card in the answer"
    ),
]
RADIUS = documented_param("radius", "metres; overrides the per-kind hazard radii (at most 50 km)")
KIND = documented_param(
    "kind", "comma list of kind codes (X000) and/or `filling`; default: the hazard table"
)
K = documented_param("k", "resources per type, 1–20 (default 3)")
TYPE = documented_param("type", "comma list of resource types; default: all")


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

    @extend_schema(
        tags=TAGS,
        parameters=LOCATE_PARAMETERS,
        responses={200: LocateSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        matches = locate.locate(request.user, request.query_params)
        return Response({"count": len(matches), "matches": [located_json(m) for m in matches]})


def _where(user, params: QueryDict, county_of: locate.CountyOf = Region.locate) -> locate.Located:
    """The point an `around` request is about: point (+crs), click, or the equipment involved."""
    given = [name for name in ("point", "click", "equipment") if params.get(name, "").strip()]
    if len(given) != 1:
        refuse(
            "point",
            "query.one_way",
            "请给出且只给出 point、click 或 equipment 之一 / give exactly one of point, click or "
            "equipment",
        )
    return locate.for_incident(
        user,
        point=params.get("point", "").strip(),
        system=params.get("crs"),
        click=params.get("click", "").strip(),
        equipment=params.get("equipment", "").strip() or None,
        county_of=county_of,
    )


class PassAnswered(APIView):
    """A read the map pass may make as well as the session: `answer(user, params)` is the view.
    It writes nothing and reads no personal data, which is what makes the pass enough."""

    authentication_classes = [map_pass.PassAuthentication, SessionAuthentication]
    permission_classes = PERMISSIONS

    @staticmethod
    def answer(user, params: QueryDict) -> str:
        """The answer's JSON text."""
        raise NotImplementedError

    @staticmethod
    def _answered(text: str) -> HttpResponse:
        response = _json_response(text)
        # The same URL answers each jurisdiction its own rows: no shared cache may keep it.
        patch_cache_control(response, private=True, no_store=True)
        patch_vary_headers(response, ["Cookie", map_pass.HEADER])
        return response

    def get(self, request: Request) -> HttpResponse:
        return self._answered(self.answer(request.user, request.query_params))


class AroundResources(PassAnswered):
    """The nearest emergency resources of each type, geodesic distance and estimated arrival."""

    @extend_schema(
        tags=TAGS,
        parameters=[*WHERE_PARAMETERS, K, TYPE],
        responses={200: OpenApiTypes.OBJECT, **PASS_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)

    @staticmethod
    def answer(user, params: QueryDict) -> str:
        k, types = around.parse_k(params.get("k")), around.parse_types(params.get("type"))
        # The county of a point and the first step of the search in one round trip.
        prefetched = nearby.CountyAndCandidates(user, types, k)
        where = _where(user, params, county_of=prefetched.county_of)
        speed, found = around.resources_around(user, where, k=k, types=types, prefetched=prefetched)
        head = {**around.place_json(where), "k": k, "speed_kmh": speed, "resources": found}
        return _spliced(head)


class AroundEquipment(PassAnswered):
    """Hazardous equipment (and filling stations) within the radius their kind calls for."""

    @extend_schema(
        tags=TAGS,
        parameters=[*WHERE_PARAMETERS, RADIUS, KIND],
        responses={200: OpenApiTypes.OBJECT, **PASS_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)

    @staticmethod
    def answer(user, params: QueryDict) -> str:
        radius = around.parse_radius(params.get("radius"))
        radii = around.radii_for(around.parse_kinds(params.get("kind")), radius)
        where = _where(user, params)
        found, items = around.hazards_around(user, where, radii)
        return _spliced({**around.place_json(where), **found}, items=items)


class Around(APIView):
    """Everything at once: the equipment involved (when given), hazards nearby, nearest resources."""

    permission_classes = PERMISSIONS

    @extend_schema(
        tags=TAGS,
        parameters=[*AROUND_PARAMETERS, RADIUS, KIND, K, TYPE],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
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

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        device = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(equipment_card(request.user, device, purpose="equipment card"))


class ResourceContact(RecordView):
    """A resource's contact, to call it: the full phone for roles with personal data (audited)."""

    model = EmergencyResource

    @extend_schema(tags=TAGS, responses={200: ResourceContactSerializer, **RECORD_ERRORS})
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
                "contact_name": personal.value_for(user, resource, "contact_name"),
                "contact_phone": personal.value_for(user, resource, "contact_phone"),
                "masked": not user.may_read_personal_data,
                "duty_hours": resource.duty_hours,
            }
        )
