"""Decision support's JSON API under /api/analysis/: workload ahead, coverage gaps, risk ranking.

Thin: parse (a 400 naming each bad parameter, in the one envelope), call analysis/decisions.py,
answer; the area is the caller's jurisdiction or a division inside it.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import error_responses
from common.http import private

from . import decisions
from .api import REGION, TAGS, MayRead
from .decision_serializers import CoverageSerializer, RiskSerializer, WorkloadSerializer

ERRORS = error_responses(400, 403)


def _param(name: str, description: str, kind=str) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description)


KIND = _param("kind", f"device kind, one of {', '.join(decisions.KINDS)}; default 3000 (elevators)")
MINUTES = _param(
    "minutes",
    f"arrival time {decisions.MIN_MINUTES}–{decisions.MAX_MINUTES} min; default the 96333 norm "
    "(30 in city districts, 60 elsewhere)",
    OpenApiTypes.INT,
)
K = _param(
    "k", f"resources to add, 1–{decisions.MAX_K}; default {decisions.DEFAULT_K}", OpenApiTypes.INT
)
TYPES = _param(
    "types", "comma-separated resource types; default maintenance_station,rescue_team,fire_station"
)
SORT = _param(
    "sort", f"one of {', '.join(decisions.RISK_SORTS)}, '-' first for ascending; default score"
)
PAGE = _param("page", f"page of {decisions.PAGE_SIZE} units, from 1", OpenApiTypes.INT)


class DecisionView(APIView):
    permission_classes = [MayRead]
    question = ""

    def parsed(self, request: Request) -> dict:
        return decisions.parse(
            request.user, request.query_params, self.question, timezone.localdate()
        )


class Workload(DecisionView):
    """Inspections falling due per month over the next 12 months, by inspection body and county."""

    question = "workload"

    @extend_schema(tags=TAGS, parameters=[REGION], responses={200: WorkloadSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        return private(Response(decisions.workload(p["region"], p["today"])))


class Coverage(DecisionView):
    """Devices beyond the arrival time of their nearest rescue resource, and where to add k."""

    question = "coverage"

    @extend_schema(
        tags=TAGS,
        parameters=[REGION, KIND, MINUTES, K, TYPES],
        responses={200: CoverageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = decisions.coverage(
            p["region"], request.user, p["kind"], p["types"], p["minutes"], p["k"], p["today"]
        )
        return private(Response(answer))


class Risk(DecisionView):
    """Use units ranked by a weighted score, every component shown."""

    question = "risk"

    @extend_schema(
        tags=TAGS, parameters=[REGION, SORT, PAGE], responses={200: RiskSerializer, **ERRORS}
    )
    def get(self, request: Request) -> Response:
        p = self.parsed(request)
        answer = decisions.risk(p["region"], request.user, p["today"], p["sort"], p["page"])
        return private(Response(answer))
