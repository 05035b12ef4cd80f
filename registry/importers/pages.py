"""The import pages: /imports/ (upload a file, the user's recent jobs) and /imports/<id>/ (map the
columns, dry run, read the report, commit). The job page's script drives the API (views.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts import policy
from geo import crs

from ..exceptions import RegistryError
from ..models.imports import Dataset, ImportJob
from . import datasets, jobs
from .errors import refuse
from .intake import StorageFull, storage_full
from .readers import GDAL_FORMATS
from .views import RECENT_JOBS, ImportView, describe_job, discard_partial_upload

CRS_CHOICES = [(o.name, o.title) for o in crs.offered_on(crs.Surface.IMPORT).values()]
ACCEPT = ".csv,.txt,.xlsx,.geojson,.json,.gpkg,.zip"


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "registry/imports/forbidden.html", status=403)


def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """The CSRF middleware's own check, run by the view: it reads the form, which is where Django
    writes a large upload to its temporary file, so a full disk must be met inside the view."""
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {})


@csrf_exempt  # from the middleware only: the view runs the same check, in its full-disk guard
@login_required
@require_http_methods(["GET", "POST"])
@policy.writes(policy.Action.IMPORT)
def imports_page(request: HttpRequest) -> HttpResponse:
    """GET: the upload form and the recent jobs. POST: store the file, then its job page."""
    user = request.user
    if not jobs.may_import(user):
        return _forbidden(request)
    errors: dict[str, list[str]] = {}
    status = 400  # when there are errors: a refused file, 429 at a limit, 507 when the disk is full
    form = {"dataset": Dataset.EQUIPMENT, "source": ""}
    if request.method == "POST":
        try:
            # Reading the body stores a large file in a temporary one: the disk can fill here too.
            if (refused := _csrf_refusal(request)) is not None:
                return refused
            form = {
                "dataset": request.POST.get("dataset") or Dataset.EQUIPMENT,
                "source": request.POST.get("source", ""),
            }
            upload = request.FILES.get("file")
            if upload is None:
                refuse("file", "file.missing", "请选择文件 / choose a file to upload")
            job = jobs.create_job(
                user,
                upload,
                upload.name or "upload",
                dataset=form["dataset"],
                source=form["source"],
            )
        except RegistryError as error:
            errors = {f: [p["message"] for p in items] for f, items in error.as_dict().items()}
            status = error.status  # 429 at a limit
        except (StorageFull, OSError) as error:
            if not storage_full(error):
                raise
            discard_partial_upload(request)
            errors, status = {"file": [StorageFull.message]}, 507
        else:
            return redirect(reverse("import-page", args=[job.pk]))
    jobs.fail_abandoned_imports(requester=user)
    recent = ImportJob.objects.visible_to(user).order_by("-created_at", "-id")[:RECENT_JOBS]
    context = {
        "datasets": datasets.choices(),
        "form": form,
        "errors": errors,
        "accept": ACCEPT,
        "jobs": [
            {
                **describe_job(job),
                "created_label": f"{timezone.localtime(job.created_at):%Y-%m-%d %H:%M}",
            }
            for job in recent
        ],
    }
    return render(request, "registry/imports/index.html", context, status=status if errors else 200)


class ImportJobPage(ImportView):
    """One of the requester's jobs; anyone else's is the 404 of a job that does not exist."""

    renderer_classes = [TemplateHTMLRenderer]
    template_name = "registry/imports/job.html"

    def get(self, request, pk: int) -> Response:
        job = self.job(pk)
        described = describe_job(job)
        elements = jobs.elements_for(job.dataset)
        for item in elements:
            item["selected"] = job.mapping.get(item["name"], "")
        context = {
            "job": described,
            "elements": elements,
            "crs_choices": CRS_CHOICES,
            "has_geometry": job.format in GDAL_FORMATS,
            "config": {
                "job": described,
                "running": list(jobs.RUNNING),
                "urls": {"list": reverse("imports")},
            },
        }
        response = Response(context)
        response["Cache-Control"] = "private, no-store"
        return response


import_job_page = login_required(ImportJobPage.as_view())
