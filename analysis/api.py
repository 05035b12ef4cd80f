"""The desk's JSON API under /api/analysis/: definitions, the overview (values, trends,
comparisons), the child regions, devices by kind and status, and the region choropleth.

Views parse (a 400 naming each bad parameter, in the one envelope), call analysis/desk.py and
answer; the area is always the caller's jurisdiction or a division inside it.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import error_responses
from common.http import private

from . import desk
from .access import may_read
from .indicators import INDICATORS
from .serializers import (
    DevicesSerializer,
    IndicatorSerializer,
    OverviewSerializer,
    RegionMapSerializer,
    RegionsSerializer,
)

TAGS = ["analysis"]
ERRORS = error_responses(400, 403)


def _param(name: str, description: str, kind=str) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description)


REGION = _param("region", "6-digit division code inside your jurisdiction; default: all of it")
YEAR = _param("year", "the year (1990 – this year); default: this year", OpenApiTypes.INT)
YEARS = _param("years", "years of trend ending with `year`, 1–20; default 10", OpenApiTypes.INT)
INDICATOR = _param("indicator", "indicator key (see /api/analysis/indicators); default devices")
PARAMS = {
    "overview": ("region", "year", "years"),
    "regions": ("region", "year"),
    "devices": ("region",),
    "map": ("region", "year", "indicator"),
}


class MayRead(BasePermission):
    def has_permission(self, request, view) -> bool:
        return may_read(request.user)


class DeskView(APIView):
    permission_classes = [MayRead]
    name_of_params = ""

    def parsed(self, request: Request) -> dict:
        allowed = PARAMS[self.name_of_params]
        return desk.parse(request.user, request.query_params, allowed, timezone.localdate())


class Indicators(APIView):
    """The indicators' definitions: formula, unit, source, meaning, whether additive."""

    permission_classes = [MayRead]

    @extend_schema(tags=TAGS, responses={200: IndicatorSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        desk.parse(request.user, request.query_params, (), timezone.localdate())
        return private(Response([desk.definition(i) for i in INDICATORS]))


class Overview(DeskView):
    """Every indicator of the area in the year, with its trend and the comparisons you may see."""

    name_of_params = "overview"

    @extend_schema(
        tags=TAGS,
        parameters=[REGION, YEAR, YEARS],
        responses={200: OverviewSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = desk.overview(request.user, p["region"], p["year"], p["years"], p["today"])
        return private(Response(answer))


class Regions(DeskView):
    """Every indicator for each region one level below the area (the table and the choropleth)."""

    name_of_params = "regions"

    @extend_schema(
        tags=TAGS, parameters=[REGION, YEAR], responses={200: RegionsSerializer, **ERRORS}
    )
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        return private(Response(desk.regions(request.user, p["region"], p["year"], p["today"])))


class Devices(DeskView):
    """Devices in the register today by kind and status."""

    name_of_params = "devices"

    @extend_schema(tags=TAGS, parameters=[REGION], responses={200: DevicesSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        return private(Response(desk.devices_by_kind(p["region"])))


class RegionMap(DeskView):
    """The child regions' outlines with one indicator's value, class colour and legend (GeoJSON)."""

    name_of_params = "map"

    @extend_schema(
        tags=TAGS,
        parameters=[REGION, YEAR, INDICATOR],
        responses={200: RegionMapSerializer, **ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        p = self.parsed(request)
        text = desk.region_map(request.user, p["region"], p["indicator"], p["year"], p["today"])
        return private(HttpResponse(text, content_type="application/geo+json"))
