"""The patrol JSON API under /patrol/api/: plans and their ranked candidates.

Views parse, call `area`/`services`, and serialize. Reads start from the caller's plans
(`visible_to`): another county's plan or candidate answers exactly like a missing one (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.policy import Action, Allows
from common.api import error_responses

from . import coverage, routes, services
from .area import parse_area
from .exceptions import refuse
from .models import (
    PatrolCandidate,
    PatrolPlan,
    PatrolRoute,
    PatrolStop,
    is_inspector,
    may_plan,
)
from .serializers import (
    CandidateMarkSerializer,
    CandidateSerializer,
    MoveSerializer,
    NothingSerializer,
    PlanDetailSerializer,
    PlanRequestSerializer,
    PlanSerializer,
    RouteRequestSerializer,
    RoutesSerializer,
    RoutingSummarySerializer,
    StopResultSerializer,
    StopSerializer,
)

TAGS = ["patrol"]
# Bad input and a refused reader; a view of one plan, candidate or stop adds the 404 of another's.
ERRORS = error_responses(400, 403)
RECORD_ERRORS = error_responses(400, 403, 404)


class MayPlan(BasePermission):
    def has_permission(self, request, view) -> bool:
        return may_plan(request.user)


class MayReadPlans(BasePermission):
    """Planners, and inspectors for the plans of their teams (the querysets narrow it)."""

    def has_permission(self, request, view) -> bool:
        return may_plan(request.user) or is_inspector(request.user)


class PatrolView(GenericAPIView):
    """A patrol endpoint: whole answers (no paging, no filter backends); readers by default."""

    permission_classes = [MayReadPlans]
    pagination_class = None
    filter_backends: list = []


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


class Plans(PatrolView):
    """Your plans (GET) and a new plan from an area, a period and criteria (POST)."""

    model = PatrolPlan
    serializer_class = PlanRequestSerializer
    permission_classes = [MayReadPlans, Allows(Action.PLAN)]

    def get_queryset(self):
        return _plans(self.request.user)

    @extend_schema(
        tags=TAGS,
        operation_id="patrol_plans_list",
        responses={200: PlanSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response([plan_json(plan) for plan in self.get_queryset()])

    @extend_schema(tags=TAGS, responses={201: PlanDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        routing = data.get("routing")
        if routing is not None and (
            not isinstance(routing, dict) or set(routing) - {"teams", "days"}
        ):
            refuse(
                "routing",
                "routing.shape",
                '应为 {"teams": …, "days": n} / expected {"teams", "days"}',
            )
        # With `routing`, the plan and its routes are made together or not at all: a refused
        # team or day leaves no plan without routes behind.
        with transaction.atomic():
            plan = services.create_plan(
                request.user,
                parse_area(request.user, data.get("area")),
                services.parse_period(data.get("period")),
                services.parse_criteria(data.get("criteria"), data.get("teams")),
            )
            if routing is not None:
                routes.route_plan(
                    plan.pk,
                    teams=routes.parse_teams(routing.get("teams", {}), plan, request.user),
                    days=routes.parse_days(routing.get("days"), plan),
                    acting_user=request.user,
                )
        return Response(_detail(request.user, plan.pk), status=status.HTTP_201_CREATED)


def _detail(user, pk: int) -> dict[str, Any]:
    plan = get_object_or_404(_plans(user), pk=pk)
    candidates = plan.candidates.select_related("equipment").order_by("rank")
    return {**plan_json(plan), "candidate_list": [candidate_json(c) for c in candidates]}


class PlanDetail(PatrolView):
    """A plan with its candidates, best first, each with its score and reasons."""

    model = PatrolPlan

    def get_queryset(self):
        return _plans(self.request.user)

    @extend_schema(tags=TAGS, responses={200: PlanDetailSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(request.user, pk))


class CandidateDetail(PatrolView):
    """One candidate (GET); pin or drop it (PATCH {"pinned": bool} or {"dropped": bool})."""

    model = PatrolCandidate
    serializer_class = CandidateMarkSerializer
    permission_classes = [MayPlan, Allows(Action.PLAN)]

    def get_queryset(self):
        return _candidates(self.request.user)

    @extend_schema(tags=TAGS, responses={200: CandidateSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(candidate_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, responses={200: CandidateSerializer, **RECORD_ERRORS})
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


# --------------------------------------------------------------------------- routes and stops


def stop_json(stop: PatrolStop) -> dict[str, Any]:
    candidate = stop.candidate
    device = candidate.equipment
    place = routes.place_of(candidate)
    return {
        "id": stop.pk,
        "route": stop.route_id,
        "sequence": stop.sequence,
        "candidate": candidate.pk,
        "rank": candidate.rank,
        "score": candidate.score,
        "reasons": candidate.reasons,
        "pinned": candidate.pinned,
        "arrival_minutes": round(stop.arrival_minutes, 1),
        "departure_minutes": round(stop.departure_minutes, 1),
        "location": place and [place.x, place.y],
        "speed_kmh": routes.speed_near(device.region),
        "equipment": {
            "id": device.pk,
            "device_code": device.device_code,
            "registration_code": device.registration_code,
            "kind": device.kind,
            "variety": device.variety_id,
            "address": device.address,
        },
        "result": None
        if stop.recorded_at is None
        else {
            "visited": stop.visited,
            "findings": stop.findings,
            "order_issued": stop.order_issued,
            "order_number": stop.order_number,
            "sealed": stop.sealed,
            "recorded_at": stop.recorded_at,
            "recorded_by": stop.recorded_by.username if stop.recorded_by else "",
        },
    }


def route_json(route: PatrolRoute) -> dict[str, Any]:
    team = route.team
    return {
        "id": route.pk,
        "team": {"id": team.pk, "number": team.number, "name": team.name},
        "day": route.day,
        "travel_minutes": round(route.travel_minutes, 1),
        "service_minutes": round(route.service_minutes, 1),
        "total_minutes": round(route.total_minutes, 1),
        "working_minutes": team.working_minutes,
        "break_minutes": team.break_minutes,
        "break_at_minutes": (
            round(route.break_at_minutes, 1) if route.break_at_minutes is not None else None
        ),
        "start": [team.start.x, team.start.y],
        "end": [team.end.x, team.end.y],
        "stops": [stop_json(s) for s in route.stops.all()],
    }


def routes_json(user, plan: PatrolPlan) -> dict[str, Any]:
    plan.refresh_from_db(fields=["criteria"])  # a write may just have changed its summary
    routes_ = (
        PatrolRoute.objects.filter(plan=plan)
        .select_related("team")
        .prefetch_related(
            Prefetch(
                "stops",
                queryset=PatrolStop.objects.select_related(routes.STOP_DEVICE, "recorded_by")
                .defer(*routes.STOP_DEVICE_DEFERRED)
                .order_by("sequence"),
            )
        )
        .order_by("day", "team__number")
    )
    listed = [route_json(r) for r in routes_]
    scheduled = {s["candidate"] for r in listed for s in r["stops"]}
    unscheduled = (
        plan.candidates.filter(dropped=False)
        .exclude(pk__in=scheduled)
        .select_related("equipment")
        .order_by("rank")
    )
    teams = plan.teams.prefetch_related("members").order_by("number")
    return {
        "plan": plan.pk,
        "summary": plan.criteria.get("routing"),
        "teams": [
            {
                "id": t.pk,
                "number": t.number,
                "name": t.name,
                "working_minutes": t.working_minutes,
                "members": [m.username for m in t.members.all()],
            }
            for t in teams
        ],
        "routes": listed,
        "unscheduled": [candidate_json(c) for c in unscheduled] if plan.teams.exists() else [],
    }


class PlanRoutes(PatrolView):
    """GET: the plan's day routes, stops in order, and the candidates no day could take.
    POST {"teams": {"count", "hours", "start", "end", "members"}, "days": n}: plan them (again)."""

    model = PatrolPlan
    serializer_class = RouteRequestSerializer
    permission_classes = [MayReadPlans, Allows(Action.PLAN)]

    def get_queryset(self):
        return PatrolPlan.objects.visible_to(self.request.user).defer("area")

    @extend_schema(tags=TAGS, responses={200: RoutesSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(routes_json(request.user, get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, responses={201: RoutesSerializer, **RECORD_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        plan = get_object_or_404(PatrolPlan.objects.visible_to(request.user), pk=pk)
        data = request.data if isinstance(request.data, dict) else {}
        if unknown := set(data) - {"teams", "days"}:
            refuse("routes", "routes.unknown", f"未知字段 / unknown fields: {sorted(unknown)}")
        try:
            routes.route_plan(
                plan.pk,
                teams=routes.parse_teams(data.get("teams", {}), plan, request.user),
                days=routes.parse_days(data.get("days"), plan),
                acting_user=request.user,
            )
        except PatrolPlan.DoesNotExist:
            raise NotFound() from None
        return Response(routes_json(request.user, plan), status=status.HTTP_201_CREATED)


class PlanReoptimise(PatrolView):
    """POST: plan the routes again with the same teams and days (hand moves are given up)."""

    model = PatrolPlan
    serializer_class = NothingSerializer
    permission_classes = [MayPlan, Allows(Action.PLAN)]

    def get_queryset(self):
        return PatrolPlan.objects.visible_to(self.request.user).defer("area")

    @extend_schema(tags=TAGS, responses={200: RoutingSummarySerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        """What a re-optimisation would reuse: the last routing's teams and days."""
        plan = get_object_or_404(self.get_queryset(), pk=pk)
        return Response({"plan": plan.pk, "summary": plan.criteria.get("routing")})

    @extend_schema(tags=TAGS, request=None, responses={200: RoutesSerializer, **RECORD_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        plan = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            routes.reoptimise_plan(plan.pk, acting_user=request.user)
        except PatrolPlan.DoesNotExist:
            raise NotFound() from None
        return Response(routes_json(request.user, plan))


def _stops(user):
    return (
        PatrolStop.objects.visible_to(user)
        .select_related(routes.STOP_DEVICE, "recorded_by", "route")
        .defer(*routes.STOP_DEVICE_DEFERRED)
    )


class StopMove(PatrolView):
    """POST {"route": id, "position": n}: move the stop to that place on a route of its plan."""

    model = PatrolStop
    serializer_class = MoveSerializer
    permission_classes = [MayPlan, Allows(Action.PLAN)]

    def get_queryset(self):
        return _stops(self.request.user)

    @extend_schema(tags=TAGS, responses={200: StopSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(stop_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, responses={200: RoutesSerializer, **RECORD_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        stop = get_object_or_404(self.get_queryset(), pk=pk)
        data = request.data if isinstance(request.data, dict) else {}
        try:
            routes.move_stop(
                stop.pk,
                route_id=_whole(data.get("route"), "route"),
                position=_whole(data.get("position"), "position"),
                acting_user=request.user,
            )
        except PatrolStop.DoesNotExist:
            raise NotFound() from None
        return Response(routes_json(request.user, stop.route.plan))


def _whole(raw: Any, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        refuse(field, f"{field}.required", f"{field} 应为整数 / {field} must be a whole number")
    return raw


class StopResult(PatrolView):
    """GET: the stop and its result. POST {visited, findings, order_issued, order_number, sealed,
    on}: record what the visit found (once; the team's inspectors or a planner)."""

    model = PatrolStop
    serializer_class = StopResultSerializer
    permission_classes = [MayReadPlans, Allows(Action.RECORD_VISIT)]

    def get_queryset(self):
        return _stops(self.request.user)

    @extend_schema(tags=TAGS, responses={200: StopSerializer, **RECORD_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(stop_json(get_object_or_404(self.get_queryset(), pk=pk)))

    @extend_schema(tags=TAGS, responses={200: StopSerializer, **RECORD_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        stop = get_object_or_404(self.get_queryset(), pk=pk)
        form = StopResultSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            routes.record_stop_result(
                stop.pk, routes.StopResult(**form.validated_data), acting_user=request.user
            )
        except PatrolStop.DoesNotExist:
            raise NotFound() from None
        return Response(stop_json(self.get_queryset().get(pk=stop.pk)))


def coverage_period(params) -> services.Period:
    """`from`/`to` of a query, by default the 365 days up to today."""
    today = timezone.localdate()
    return services.parse_period(
        {
            "from": params.get("from") or (today - dt.timedelta(days=364)).isoformat(),
            "to": params.get("to") or today.isoformat(),
        }
    )


class Coverage(PatrolView):
    """Patrol coverage per region of your jurisdiction for a period (`from`, `to`; the last 365
    days by default): devices in use, devices visited and their share, visits, visits with
    findings, supervision orders, sealings."""

    permission_classes = [MayPlan]

    @extend_schema(tags=TAGS, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request) -> Response:
        if unknown := set(request.query_params) - {"from", "to", "format"}:
            refuse("query", "query.unknown", f"未知参数 / unknown parameters: {sorted(unknown)}")
        period = coverage_period(request.query_params)
        return Response(coverage.coverage(request.user, period))
