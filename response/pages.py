"""The response console (应急处置台): one page where a 96333 operator locates a call, sees what is
around it, reports the incident, asks for help along the tiers and follows it to the end.

The page is a shell: segis-console.js does everything through /response/api/, so the page and the
API can never disagree on scoping or rules.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from common.i18n import in_language
from common.urls import url_template
from geo.basemap import jurisdiction_extent
from registry import catalogue
from registry.models.events import ResourceType

from . import conf
from .models import DispatchTier, IncidentState
from .services import may_respond

# What a coordinate picker gives (docs/crs.md): GPS and CGCS2000 as is, Amap/Tencent and Baidu offset.
CRS_CHOICES = [
    {"value": "wgs84", "label": "WGS84 · GPS"},
    {"value": "cgcs2000", "label": "CGCS2000 · 国家2000"},
    {"value": "gcj02", "label": "GCJ-02 · 高德/腾讯 Amap/Tencent"},
    {"value": "bd09", "label": "BD-09 · 百度 Baidu"},
]
# The 96333 platform's fault codes the console offers first; any other code may be typed.
FAULT_CODES = [
    {"value": "11", "label": gettext_lazy("11 困人")},
    {"value": "", "label": gettext_lazy("其他")},
]


def _choices(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def console_config(user: User, incident: str | None) -> dict:
    """Everything segis-console.js needs to start; every URL it calls is scoped by the API."""
    return {
        "bounds": jurisdiction_extent(user.jurisdiction_prefix),
        "may_act": may_respond(user),
        "incident": int(incident) if incident and incident.isdigit() else None,
        "poll_ms": 5000,
        # Times read in the agency's zone, whatever the browser's machine is set to.
        "time_zone": settings.TIME_ZONE,
        "urls": {
            "basemap": reverse("map-basemap"),
            "locate": reverse("response:locate"),
            "around": reverse("response:around"),
            "incidents": reverse("response:incidents"),
            "incident": url_template("response:incident"),
            "dispatch": url_template("response:incident-dispatch"),
            "transition": url_template("response:incident-transition"),
            "events": url_template("response:incident-events"),
            "grants": url_template("response:incident-grants"),
            "respond": url_template("response:dispatch-respond"),
            "cancel": url_template("response:dispatch-cancel"),
            "sheet": url_template("response:incident-sheet"),
            "equipment_page": url_template("equipment-page"),
            "resource_page": url_template("resource-page"),
        },
        "crs": CRS_CHOICES,
        "fault_codes": FAULT_CODES,
        "states": _choices(IncidentState.choices),
        "tiers": _choices(DispatchTier.choices),
        "resource_types": _choices(ResourceType.choices),
        # Hazards come with their kind code (X000): the list shows its name.
        "kinds": {k.code: in_language(k.name_zh, k.name_en) for k in catalogue.kinds()},
        "grant_max_hours": conf.value("RESPONSE_GRANT_MAX_HOURS"),
    }


@login_required
def console(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.jurisdiction_prefix is None or user.role == Role.ENTERPRISE:
        return render(request, "maps/no_jurisdiction.html", status=403)
    config = console_config(user, request.GET.get("incident"))
    return render(request, "response/console.html", {"config": config})
