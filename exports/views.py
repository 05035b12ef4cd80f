"""The export page (/export/): choose a layer, the map's filters, an area, a format and a CRS; see
an estimate; download at once or follow a background job to its download link.

Views parse and call exports/jobs.py. Every bad input is a 400 naming the field: the page shows it
beside the field, the JSON endpoints answer the one error envelope (common/errors.py),
{"errors": {field: [{rule, message, suggestion}]}}. A job is seen and downloaded by its requester
only: anyone else gets the 404 of a job that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response

from accounts import policy
from accounts.models import User
from common.api import error_responses
from common.http import content_disposition, json_errors, jurisdiction_refusal
from exports.jobs import (
    Estimate,
    estimate_export,
    expire_exports,
    job_file,
    request_export,
    run_export,
)
from exports.models import ExportJob
from exports.options import FORMATS, LAYER_TITLES, TARGETS, ExportError, parse_format
from exports.serializers import ExportJobSerializer
from exports.submission import (
    AREA_FIELDS,
    FORM_CONTROLS,
    all_filter_params,
    filter_params,
    submitted_parameters,
)
from geo import crs
from geo.basemap import jurisdiction_extent
from layers import catalogue
from layers.filters import LAYER_FILTERS, DateRangeFilter
from maps.choropleth import WINDOW_LABELS
from registry.models import EquipmentStatus, UnitRole
from registry.models.events import ResourceType

RECENT_JOBS = 20
MAX_REFILL_POLYGON = 4000  # characters; browsers and proxies take URLs of 8 KB
# What the from/to dates mean, by the date field a layer's filter reads.
DATE_MEANINGS = {
    "commissioned_on": gettext_lazy("投用日期"),
    "occurred_at": gettext_lazy("事故发生日期"),
}
# Filters the page lays out itself; any other filter of a layer gets a plain text field.
PAGE_FILTERS = {"kind", "variety", "status", "from", "to", "role", "type", "window"}
PAGE_FILTERS |= {"accident_from", "accident_to"}


def _date_meaning(layer: str) -> str:
    filters = LAYER_FILTERS.get(layer, LAYER_FILTERS["equipment"])
    field = next((f.field for f in filters if isinstance(f, DateRangeFilter)), None)
    return str(DATE_MEANINGS.get(field, ""))


def _targets(prefix: str) -> tuple[list[dict], list[dict]]:
    """The CRS choices: the common systems, and the Gauss-Krüger zones (the jurisdiction's own
    marked: the zone of its middle longitude)."""
    extent = jurisdiction_extent(prefix)
    zone = crs.gauss_kruger_zone((extent[0] + extent[2]) / 2) if extent else None
    common, zones = [], []
    for target in TARGETS.values():
        entry = {
            "name": target.name,
            "label": target.label,
            "srid": target.srid,
            "own": target.name == f"gk{zone}",
        }
        (zones if target.name.startswith("gk") else common).append(entry)
    return common, zones


def describe_job(job: ExportJob) -> dict[str, Any]:
    """A job as the page and its status endpoint show it."""
    parameters = job.parameters
    title = LAYER_TITLES.get(parameters.get("layer"), (parameters.get("layer"), ""))
    fmt = FORMATS.get(parameters.get("format"))
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": job.get_state_display(),
        "layer": " / ".join(filter(None, title)),
        "format": fmt.title if fmt else parameters.get("format"),
        "crs": parameters.get("crs"),
        "estimate": job.estimate,
        "done": job.rows_done,
        "total": job.rows_total,
        "error": job.error,
        "file_name": job.file_name,
        "file_size": job.file_size,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "status_url": reverse("export-job", args=[job.pk]),
        "download_url": reverse("export-download", args=[job.pk])
        if job.state == ExportJob.State.DONE
        else None,
    }


def _describe_estimate(estimate: Estimate) -> dict[str, Any]:
    return {
        "rows": estimate.rows,
        "bytes": estimate.bytes,
        "seconds": round(estimate.seconds, 1),
        "background": estimate.background,
        "file_name": estimate.file_name,
    }


def _page(
    request: HttpRequest,
    parameters: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    estimate: Estimate | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    prefix = user.jurisdiction_prefix
    kinds, varieties = catalogue.variety_choices()
    common, zones = _targets(prefix)
    layer = parameters.get("layer") or next(iter(LAYER_TITLES))
    errors = errors or {}
    shown = {"layer", "format", "crs", *AREA_FIELDS, *all_filter_params()}
    selected = {k: set(v.split(",")) for k, v in parameters.get("filters", {}).items()}
    config = {
        "bounds": jurisdiction_extent(prefix),
        "layer_params": {name: filter_params(name) for name in LAYER_TITLES},
        "date_meanings": {name: _date_meaning(name) for name in LAYER_TITLES},
        "wgs84_only": [f.name for f in FORMATS.values() if f.wgs84_only],
        "urls": {"basemap": reverse("map-basemap"), "estimate": reverse("export-estimate")},
    }
    context = {
        "layers": [{"name": n, "zh": zh, "en": en} for n, (zh, en) in LAYER_TITLES.items()],
        "layer": layer,
        "formats": FORMATS.values(),
        "common_targets": common,
        "zone_targets": zones,
        "parameters": parameters,
        "filters": parameters.get("filters", {}),
        "selected": selected,
        "extra_filters": sorted(set(all_filter_params()) - PAGE_FILTERS - set(AREA_FIELDS)),
        "kinds": kinds,
        "varieties": varieties,
        "statuses": catalogue.labelled(EquipmentStatus.choices),
        "roles": catalogue.labelled(UnitRole.choices),
        "resource_types": catalogue.labelled(ResourceType.choices),
        "windows": WINDOW_LABELS.items(),
        "regions": catalogue.region_choices(prefix),
        "errors": errors,
        "other_errors": {k: v for k, v in errors.items() if k not in shown},
        "estimate": _describe_estimate(estimate) if estimate else None,
        "jobs": [
            describe_job(job)
            for job in ExportJob.objects.visible_to(user).order_by("-created_at")[:RECENT_JOBS]
        ],
        "config": config,
    }
    return render(request, "exports/export.html", context, status=status)


def _download(job: ExportJob) -> FileResponse:
    response = FileResponse(
        job_file(job).open("rb"), content_type=parse_format(job.parameters["format"]).content_type
    )
    response["Content-Disposition"] = content_disposition(job.file_name, job.ascii_file_name)
    patch_cache_control(response, private=True, no_store=True)
    return response


def _refill(data: QueryDict) -> str:
    """The submitted form as a query string, so the page the job is followed on shows the same
    choices; without a polygon too long for a URL."""
    kept = QueryDict(mutable=True)
    for name, values in data.lists():
        values = [v for v in values if v.strip()]
        if values and name not in FORM_CONTROLS:
            kept.setlist(name, values)
    if len(kept.get("polygon", "")) > MAX_REFILL_POLYGON:
        kept.pop("polygon")
    return f"?{kept.urlencode()}" if kept else ""


@login_required
@require_http_methods(["GET", "POST"])
@policy.writes(policy.Action.EXPORT)
def export_page(request: HttpRequest) -> HttpResponse:
    """GET: the form, filled from the query string (the map's "Export" link passes its layer,
    filters and view). POST: start the export: a small one is the response itself, a large one
    a background job followed on this page."""
    user = request.user
    if user.jurisdiction_prefix is None:
        return render(request, "maps/no_jurisdiction.html", status=403)
    expire_exports(requester=user)
    data = request.POST if request.method == "POST" else request.GET
    try:
        parameters = submitted_parameters(data)
    except ExportError as error:
        return _page(request, submitted_parameters(QueryDict()), errors=error.errors, status=400)
    if request.method == "GET":
        return _page(request, parameters)
    if data.get("action") == "estimate":  # without JavaScript, the estimate is a round trip
        try:
            return _page(request, parameters, estimate=estimate_export(user, parameters))
        except ExportError as error:
            return _page(request, parameters, errors=error.errors, status=400)
    try:
        job = request_export(user, parameters, background=bool(data.get("background")))
    except ExportError as error:
        return _page(request, parameters, errors=error.errors, status=400)
    if job.task_id:
        return redirect(f"{reverse('export')}{_refill(data)}#job-{job.pk}")
    job = run_export(job.pk)
    if job.state != ExportJob.State.DONE:
        return _page(request, parameters, errors={"export": job.error}, status=500)
    return _download(job)


@require_http_methods(["GET", "POST"])
@policy.writes(policy.Action.EXPORT, json=True)
def estimate(request: HttpRequest) -> HttpResponse:
    """{"rows", "bytes", "seconds", "background", "file_name"}: rows as the map counts them for
    the same filters and area. POST takes the same fields (a drawn polygon outgrows a URL)."""
    if (refused := jurisdiction_refusal(request)) is not None:
        return refused
    data = request.POST if request.method == "POST" else request.GET
    try:
        result = estimate_export(request.user, submitted_parameters(data))
    except ExportError as error:
        return json_errors(error.errors)
    response = JsonResponse(_describe_estimate(result), json_dumps_params={"ensure_ascii": False})
    patch_cache_control(response, private=True, no_store=True)
    return response


class ExportJobView(GenericAPIView):
    """One of the requester's jobs; anyone else's is the 404 of a job that does not exist."""

    model = ExportJob
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return ExportJob.objects.visible_to(self.request.user)

    def job(self, pk: int) -> ExportJob:
        user: User = self.request.user
        expire_exports(requester=user)
        return get_object_or_404(self.get_queryset(), pk=pk)


class ExportJobStatus(ExportJobView):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="导出任务状态 / an export job's state and progress",
        responses={200: ExportJobSerializer, **error_responses(403, 404)},
    )
    def get(self, request, pk: int) -> Response:
        response = Response(describe_job(self.job(pk)))
        patch_cache_control(response, private=True, no_store=True)
        return response


class ExportJobDownload(ExportJobView):
    """The job's file, under its Chinese name (with an ASCII fallback); 410 once it expired,
    409 while it is not done (or failed, with its error)."""

    renderer_classes = [TemplateHTMLRenderer]
    template_name = "exports/export_unavailable.html"

    def get(self, request, pk: int) -> HttpResponse:
        job = self.job(pk)
        if job.state == ExportJob.State.DONE:
            try:
                return _download(job)
            except FileNotFoundError:  # removed behind our back: as good as expired
                job.state = ExportJob.State.EXPIRED
                job.save(update_fields=["state"])
        status = 410 if job.state == ExportJob.State.EXPIRED else 409
        return Response({"job": describe_job(job), "now": timezone.now()}, status=status)


export_job = login_required(ExportJobStatus.as_view())
export_download = login_required(ExportJobDownload.as_view())
