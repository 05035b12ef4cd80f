"""/api/analysis/evaluation…: the league table with every agency's components, the scheme (read
and, for national and provincial administrators, edit), publishing a year, and the due dates
behind the inspection rate. Views parse, call analysis/evaluation.py and answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.policy import Action, Allows
from common.api import error_responses
from common.http import private

from . import evaluation
from .api import REGION, TAGS, YEAR, MayRead
from .evaluation_serializers import (
    DuesSerializer,
    EvaluationSerializer,
    PublicationSerializer,
    PublishSerializer,
    SchemeEditSerializer,
    SchemeSerializer,
)

MET = OpenApiParameter(
    "met", str, OpenApiParameter.QUERY, enum=["yes", "no"], description="met on time, or missed"
)
PAGE = OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="from 1")
READ_ERRORS = error_responses(400, 403)


class League(APIView):
    """The area's agency score and its child agencies' scores, each with every component."""

    permission_classes = [MayRead]

    @extend_schema(
        tags=TAGS, parameters=[REGION, YEAR], responses={200: EvaluationSerializer, **READ_ERRORS}
    )
    def get(self, request: Request) -> Response:
        today = timezone.localdate()
        p = evaluation.parse(request.user, request.query_params, ("region", "year"), today)
        return private(Response(evaluation.league(request.user, p["region"], p["year"], today)))


class Scheme(APIView):
    """The scheme an area's year is scored by; PUT sets your level's scheme from a year on."""

    permission_classes = [MayRead, Allows(Action.EVALUATION_SCHEME)]

    @extend_schema(
        tags=TAGS, parameters=[REGION, YEAR], responses={200: SchemeSerializer, **READ_ERRORS}
    )
    def get(self, request: Request) -> Response:
        today = timezone.localdate()
        p = evaluation.parse(request.user, request.query_params, ("region", "year"), today)
        scheme, published = evaluation.scheme_for(p["region"].prefix, p["year"])
        return private(Response(evaluation.scheme_dict(scheme, published)))

    @extend_schema(
        tags=TAGS,
        request=SchemeEditSerializer,
        responses={200: SchemeSerializer, **error_responses(400, 403)},
    )
    def put(self, request: Request) -> Response:
        today = timezone.localdate()
        body = request.data if isinstance(request.data, dict) else {}
        year = evaluation.parse_year_field(body.get("year"), today)
        region = body.get("region")
        scheme = evaluation.edit_scheme(
            acting_user=request.user,
            year=year,
            components=body.get("components"),
            note=str(body.get("note") or ""),
            region=None if region is None else str(region),
        )
        return Response(evaluation.scheme_dict(scheme))


class Publish(APIView):
    """Publish a finished year's scores: the scheme they were computed with is fixed."""

    permission_classes = [MayRead, Allows(Action.EVALUATION_SCHEME)]

    @extend_schema(
        tags=TAGS,
        request=PublishSerializer,
        responses={201: PublicationSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        today = timezone.localdate()
        body = request.data if isinstance(request.data, dict) else {}
        year = evaluation.parse_year_field(body.get("year"), today)
        region = body.get("region")
        done = evaluation.publish_year(
            acting_user=request.user,
            year=year,
            today=today,
            region=None if region is None else str(region),
        )
        answer = {
            "owner": done.owner,
            "year": done.year,
            "scheme": done.scheme_id,
            "version": done.scheme.version,
        }
        return Response(answer, status=201)


class Dues(APIView):
    """The inspection due dates a year's 定期检验率 counted in the area (met, missed, or all)."""

    permission_classes = [MayRead]

    @extend_schema(
        tags=TAGS,
        parameters=[REGION, YEAR, MET, PAGE],
        responses={200: DuesSerializer, **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        today = timezone.localdate()
        p = evaluation.parse(
            request.user, request.query_params, ("region", "year", "met", "page"), today
        )
        answer = evaluation.dues_page(p["region"], p["year"], p["met"], p["page"], today)
        return private(Response(answer))
