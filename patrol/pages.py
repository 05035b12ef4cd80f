"""Patrol pages (issue 5): the plans page (a new plan, the plans list) and one plan's routes on a map.

The pages are shells: segis-patrol.js does everything through /patrol/api/, so the pages and the API
can never disagree on scoping or rules.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts.models import Role, User
from common.urls import url_template
from geo.basemap import jurisdiction_extent
from geo.models import Region
from registry import catalogue

from . import routes, services
from .api import coverage_period
from .coverage import coverage
from .models import PatrolPlan, is_inspector, may_plan
from .routes import DAY_START

NO_ACCESS = "maps/no_jurisdiction.html"
DEFAULT_WEEKS = 4


def may_open(user: User) -> bool:
    """Whether the user may open the patrol pages: planners and inspectors."""
    return may_plan(user) or is_inspector(user)


def next_monday(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=7 - today.weekday())


def plans_config(user: User, divisions: list[dict]) -> dict:
    """Everything the plans page's script needs; every URL it calls is scoped by the API."""
    starts = next_monday(timezone.localdate())
    return {
        "break_minutes": routes.value("PATROL_BREAK_MINUTES"),
        "break_from": routes.value("PATROL_BREAK_FROM"),
        "page": "plans",
        "may_plan": may_plan(user),
        "bounds": jurisdiction_extent(user.jurisdiction_prefix),
        "period": {
            "from": starts.isoformat(),
            "to": (starts + dt.timedelta(weeks=DEFAULT_WEEKS, days=-1)).isoformat(),
        },
        "region_names": {r["code"]: r["name"] for r in divisions},
        "limit": services.DEFAULT_LIMIT,
        "max_limit": services.MAX_LIMIT,
        "urls": {
            "basemap": reverse("map-basemap"),
            "plans": reverse("patrol:plans"),
            "routes": url_template("patrol:plan-routes"),
            "plan_page": url_template("patrol:plan-page"),
        },
    }


def _inspectors(user: User) -> list[dict]:
    """The inspectors a planner may put in a team: those of the planner's jurisdiction."""
    inspectors = (
        User.objects.visible_to(user)
        .filter(role=Role.INSPECTOR, is_active=True)
        .order_by("username")
    )
    return [
        {"id": u.pk, "username": u.username, "name": u.get_full_name() or u.username}
        for u in inspectors
    ]


@login_required
def plans_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not may_open(user):
        return render(request, NO_ACCESS, status=403)
    planner = may_plan(user)
    divisions = list(
        Region.objects.within_prefix(user.jurisdiction_prefix or "")
        .listable()
        .order_by("code")
        .values("code", "name", "level")
    )
    context = {
        "config": plans_config(user, divisions),
        "kinds": catalogue.kinds() if planner else (),
        "divisions": divisions if planner else [],
        "inspectors": _inspectors(user) if planner else [],
        "coverage": coverage(user, coverage_period({})) if planner else None,
    }
    return render(request, "patrol/plans.html", context)


@method_decorator(login_required, name="dispatch")
class PlanPage(GenericAPIView):
    """One plan: its routes per team and day on a map, the stops to move and record, the exports."""

    queryset = PatrolPlan.objects.all()
    renderer_classes = [TemplateHTMLRenderer]
    template_name = "patrol/plan.html"
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return PatrolPlan.objects.visible_to(self.request.user).select_related("region", "owner")

    def get(self, request, pk: int) -> Response:
        user = request.user
        if not may_open(user):
            return Response({}, template_name=NO_ACCESS, status=403)
        plan = get_object_or_404(self.get_queryset().defer("area"), pk=pk)
        return Response({"plan": plan, "config": plan_config(user, plan)})


def plan_config(user: User, plan: PatrolPlan) -> dict:
    """Everything the plan page's script needs: the plan's own URLs and the URL templates per stop."""
    return {
        "page": "plan",
        "plan": plan.pk,
        "may_plan": may_plan(user),
        "day_start": DAY_START,
        "time_zone": settings.TIME_ZONE,
        "bounds": jurisdiction_extent(plan.region_id or user.jurisdiction_prefix),
        "urls": {
            "basemap": reverse("map-basemap"),
            "plans_page": reverse("patrol:plans-page"),
            "routes": reverse("patrol:plan-routes", kwargs={"pk": plan.pk}),
            "reoptimise": reverse("patrol:plan-reoptimise", kwargs={"pk": plan.pk}),
            "gpx": reverse("patrol:plan-gpx", kwargs={"pk": plan.pk}),
            "geojson": reverse("patrol:plan-geojson", kwargs={"pk": plan.pk}),
            "move": url_template("patrol:stop-move"),
            "result": url_template("patrol:stop-result"),
            "candidate": url_template("patrol:candidate"),
            "sheet": url_template("patrol:route-sheet"),
            "equipment_page": url_template("equipment-page"),
        },
    }
