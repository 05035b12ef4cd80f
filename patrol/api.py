"""The patrol JSON API under /patrol/api/: plans and their ranked candidates.

Views parse, call `area`/`services`, and serialize. Reads start from the caller's plans
(`visible_to`): another county's plan or candidate answers exactly like a missing one (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from . import services
from .area import parse_area
from .exceptions import refuse
from .models import PatrolCandidate, PatrolPlan, may_plan
from .serializers import CandidateMarkSerializer, PlanRequestSerializer

TAGS = ["patrol"]


class MayPlan(BasePermission):
    def has_permission(self, request, view) -> bool:
        return may_plan(request.user)


def plan_json(plan: PatrolPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "owner": plan.owner.username,
        "region": plan.region_id,
        "from": plan.starts_on,
        "to": plan.ends_on,
        "criteria": plan.criteria,
        "created_at": plan.created_at,
        "candidates": plan.candidate_count,
        "pinned": plan.pinned_count,
        "dropped": plan.dropped_count,
    }


def candidate_json(candidate: PatrolCandidate) -> dict[str, Any]:
    device = candidate.equipment
    return {
        "id": candidate.pk,
        "plan": candidate.plan_id,
        "rank": candidate.rank,
        "score": candidate.score,
        "reasons": candidate.reasons,
        "pinned": candidate.pinned,
        "dropped": candidate.dropped,
        "equipment": {
            "id": device.pk,
            "device_code": device.device_code,
            "kind": device.kind,
            "address": device.address,
            "region": device.region_id,
            "location": device.location and [device.location.x, device.location.y],
        },
    }


def _plans(user):
    return (
        PatrolPlan.objects.visible_to(user)
        .select_related("owner")
        .defer("area")
        .annotate(
            candidate_count=Count("candidates"),
            pinned_count=Count("candidates", filter=Q(candidates__pinned=True)),
            dropped_count=Count("candidates", filter=Q(candidates__dropped=True)),
        )
    )


def _candidates(user):
    return PatrolCandidate.objects.visible_to(user).select_related("equipment")


class Plans(GenericAPIView):
    """Your plans (GET) and a new plan from an area, a period and criteria (POST)."""

    model = PatrolPlan
    serializer_class = PlanRequestSerializer
    permission_classes = [MayPlan]
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return _plans(self.request.user)

    @extend_schema(tags=TAGS, operation_id="patrol_plans_list", responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response([plan_json(plan) for plan in self.get_queryset()])

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        plan = services.create_plan(
            request.user,
            parse_area(request.user, data.get("area")),
            services.parse_period(data.get("period")),
            services.parse_criteria(data.get("criteria"), data.get("teams")),
        )
        return Response(_detail(request.user, plan.pk), status=status.HTTP_201_CREATED)


def _detail(user, pk: int) -> dict[str, Any]:
    plan = get_object_or_404(_plans(user), pk=pk)
    candidates = plan.candidates.select_related("equipment").order_by("rank")
    return {**plan_json(plan), "candidate_list": [candidate_json(c) for c in candidates]}


class PlanDetail(GenericAPIView):
    """A plan with its candidates, best first, each with its score and reasons."""

    model = PatrolPlan
    permission_classes = [MayPlan]
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return _plans(self.request.user)

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(request.user, pk))


class CandidateDetail(GenericAPIView):
    """One candidate (GET); pin or drop it (PATCH {"pinned": bool} or {"dropped": bool})."""

    model = PatrolCandidate
    serializer_class = CandidateMarkSerializer
    permission_classes = [MayPlan]
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return _candidates(self.request.user)

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(candidate_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, pk: int) -> Response:
        get_object_or_404(self.get_queryset(), pk=pk)
        data = request.data if isinstance(request.data, dict) else {}
        flags = {k: v for k, v in data.items() if k in ("pinned", "dropped")}
        if (
            not flags
            or set(data) - set(flags)
            or not all(isinstance(v, bool) for v in flags.values())
        ):
            refuse(
                "candidate",
                "candidate.flags",
                '应为 {"pinned": true/false} 或 {"dropped": true/false} / expected {"pinned": bool} '
                'or {"dropped": bool}',
            )
        services.mark_candidate(pk, acting_user=request.user, **flags)
        return Response(candidate_json(self.get_queryset().get(pk=pk)))
