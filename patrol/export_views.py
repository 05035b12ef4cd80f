"""Patrol exports (issue 5): GPX and GeoJSON of a plan's routes, a printable sheet per route.

Each reads through `visible_to(user)`: another county's plan or route, or a plan of a team the
inspector is not in, answers exactly like a missing one (404). `?route=<id>` narrows the files to
one route of the plan (another plan's route is a 400 naming `route`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import TemplateHTMLRenderer

from accounts import audit
from common.http import content_disposition

from . import exports
from .api import TAGS, MayReadPlans
from .models import PatrolPlan, PatrolRoute
from .pages import NO_ACCESS, may_open

ROUTE_PARAMETER = OpenApiParameter(
    "route", int, description="只导出该计划的这条路线 / only this route of the plan"
)


class AnyAccept(DefaultContentNegotiation):
    """The file is the file whatever a navigation app's Accept header asks for; errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PlanFile(GenericAPIView):
    """A plan's routes as a file for navigation apps."""

    queryset = PatrolPlan.objects.all()
    permission_classes = [MayReadPlans]
    content_negotiation_class = AnyAccept
    filter_backends: list = []
    pagination_class = None
    suffix = ""
    media_type = ""

    def get_queryset(self):
        return PatrolPlan.objects.visible_to(self.request.user).defer("area")

    # The file's writer, set by each format: (plan, routes) -> bytes.
    document: Callable[[PatrolPlan, list[PatrolRoute]], bytes]

    def get(self, request, pk: int) -> HttpResponse:
        plan = get_object_or_404(self.get_queryset(), pk=pk)
        routes = exports.plan_routes(plan, request.query_params.get("route"))
        content = self.document(plan, routes)
        # Inspectors' plans and tracks are personal information: who took them away is on record.
        audit.record(
            request.user,
            "patrol.exported",
            plan,
            after={"format": self.suffix, "routes": [r.pk for r in routes]},
            region_code=plan.region_id or "",
        )
        name = f"patrol-plan-{plan.pk}"
        if len(routes) == 1 and request.query_params.get("route"):
            name += f"-route-{routes[0].pk}"
        response = HttpResponse(content, content_type=self.media_type)
        response["Content-Disposition"] = content_disposition(f"{name}.{self.suffix}")
        return response


class PlanGpx(PlanFile):
    """GPX 1.1: a track per route (team and day), a waypoint per stop and team start."""

    suffix = "gpx"
    media_type = "application/gpx+xml"

    document = staticmethod(exports.gpx_document)

    @extend_schema(
        tags=TAGS,
        operation_id="patrol_plan_gpx",
        parameters=[ROUTE_PARAMETER],
        responses={(200, "application/gpx+xml"): OpenApiTypes.STR},
    )
    def get(self, request, pk: int) -> HttpResponse:
        return super().get(request, pk)


class PlanGeoJson(PlanFile):
    """GeoJSON (RFC 7946): a LineString per route, a Point per stop."""

    suffix = "geojson"
    media_type = "application/geo+json"

    document = staticmethod(exports.geojson_bytes)

    @extend_schema(
        tags=TAGS,
        operation_id="patrol_plan_geojson",
        parameters=[ROUTE_PARAMETER],
        responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
    )
    def get(self, request, pk: int) -> HttpResponse:
        return super().get(request, pk)


class RouteSheet(GenericAPIView):
    """One team's day as a printable page: map, stops with contacts and what to check."""

    queryset = PatrolRoute.objects.all()
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def dispatch(self, request, *args, **kwargs):
        # A page, not an API: an anonymous visitor is sent to sign in, as on every other page.
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return exports.sheet_queryset(self.request.user)

    def get(self, request, pk: int) -> HttpResponse:
        if not may_open(request.user):
            return HttpResponse(render_to_string(NO_ACCESS, request=request), status=403)
        route = get_object_or_404(self.get_queryset(), pk=pk)
        facts = exports.sheet_facts(request.user, route)
        context = {**facts, "map": exports.sheet_map(facts)}
        return HttpResponse(render_to_string("patrol/route_sheet.html", context, request=request))
