"""The accident analysis's JSON API under /api/analysis/accidents: the breakdowns, the list, the
hot spots and their map. Views parse (a 400 naming each bad parameter), call
analysis/accidents.py or analysis/hotspots.py and answer; the area is the caller's jurisdiction
or a division inside it, as on the desk."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.http import private

from . import accidents, hotspots
from .accidents_serializers import (
    AccidentPageSerializer,
    AccidentSummarySerializer,
    HotspotMapSerializer,
    HotspotsSerializer,
)
from .api import ERRORS, REGION, TAGS, YEAR, MayRead


def _param(name: str, description: str, kind=str) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description)


YEARS = _param(
    "years", "years of the period ending with `year`, 1–20; default 10", OpenApiTypes.INT
)
FILTERS = [
    _param("kind", "事故类型 / accident kind, exactly as recorded"),
    _param("cause", "cause class: use_management, defect, safety_device, other"),
    _param("severity", "ordinary, large, major, extraordinary"),
    _param(
        "place", "place type: residential, public, factory, construction, logistics, leisure, other"
    ),
]
PAGE = _param("page", "page of 50, from 1", OpenApiTypes.INT)
MEASURE = _param(
    "measure", "accidents (per 10,000 devices a year) or overdue (share); default accidents"
)


class AccidentView(APIView):
    permission_classes = [MayRead]
    allowed: tuple[str, ...] = accidents.PARAMS

    def parsed(self, request: Request) -> dict:
        return accidents.parse(
            request.user, request.query_params, self.allowed, timezone.localdate()
        )


class Summary(AccidentView):
    """Accidents, deaths and injuries over the period by year (with the per-10,000 rates) and
    month, and by kind, cause class, severity, month of the year, place type; each kind's causes."""

    @extend_schema(tags=TAGS, parameters=[REGION, YEAR, YEARS, *FILTERS],
                   responses={200: AccidentSummarySerializer, **ERRORS})  # fmt: skip
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = accidents.summary(
            request.user, p["region"], p["year"], p["years"], p["filters"], p["today"]
        )
        return private(Response(answer))


class Listing(AccidentView):
    """The accidents of the period that pass the filters, newest first, 50 a page."""

    allowed = accidents.LIST_PARAMS

    @extend_schema(tags=TAGS, parameters=[REGION, YEAR, YEARS, *FILTERS, PAGE],
                   responses={200: AccidentPageSerializer, **ERRORS})  # fmt: skip
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = accidents.listing(
            p["region"], p["year"], p["years"], p["filters"], p["page"], p["today"]
        )
        return private(Response(answer))


class Hotspots(AccidentView):
    """Getis-Ord Gi* hot and cold spots of a rate among the area's counties (docs/analysis.md)."""

    allowed = accidents.HOTSPOT_PARAMS

    @extend_schema(tags=TAGS, parameters=[REGION, YEAR, YEARS, MEASURE],
                   responses={200: HotspotsSerializer, **ERRORS})  # fmt: skip
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = hotspots.hotspots(
            request.user, p["region"], p["measure"], p["year"], p["years"], p["today"]
        )
        return private(Response(answer))


class HotspotMap(AccidentView):
    """The area's counties as GeoJSON with their rate, Gi* z, p and class colour."""

    allowed = accidents.HOTSPOT_PARAMS

    @extend_schema(tags=TAGS, parameters=[REGION, YEAR, YEARS, MEASURE],
                   responses={200: HotspotMapSerializer, **ERRORS})  # fmt: skip
    def get(self, request: Request) -> HttpResponse:
        p = self.parsed(request)
        text = hotspots.hotspot_map(
            request.user, p["region"], p["measure"], p["year"], p["years"], p["today"]
        )
        return private(HttpResponse(text, content_type="application/geo+json"))
