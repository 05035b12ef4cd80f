"""The import API (/api/imports/): upload a file, map its columns, dry run, read the report, commit.

Views parse and call registry/importers/jobs.py. A job is its requester's alone: anyone else gets
the 404 of a job that does not exist; only supervisors and administrators import (others 403).
Every bad input is a 400 naming the field ({"errors": {field: [{rule, message, suggestion}]}}).
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts import audit, policy
from common.api import whole_number
from common.errors import envelope, error_dict

from ..models.imports import Dataset, ImportFinding, ImportJob
from ..validators import ERROR, WARNING
from . import datasets, jobs, report
from .errors import refuse
from .intake import STORAGE_FULL_RULE, StorageFull, storage_full

TAGS = ["imports"]
RECENT_JOBS = 50


class MayImport(BasePermission):
    policy_action = policy.Action.IMPORT  # to read the jobs as to write them
    message = "只有监察人员和管理员可以导入数据 / only supervisors and administrators import data"

    def has_permission(self, request, view) -> bool:
        return jobs.may_import(request.user)


def describe_job(job: ImportJob) -> dict[str, Any]:
    """A job as the page and the API show it."""
    facts = jobs.file_facts(job)
    summary = {k: v for k, v in job.summary.items() if k not in ("file", "validated_with")}
    refusal = jobs.commit_refusal(job)
    headline = (
        f"{summary['new']} new, {summary['changed']} changed, {summary['unchanged']} unchanged"
        if "new" in summary
        else ""
    )
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": job.get_state_display(),
        "original_name": job.original_name,
        "format": job.format,
        "encoding": job.encoding,
        "size": job.size,
        "dataset": job.dataset,
        "dataset_label": datasets.label_of(job.dataset),
        "source": job.source,
        "columns": facts["columns"],
        "layer_crs": facts["crs"],
        "notices": facts["notices"],
        "mapping": job.mapping,
        "source_crs": job.source_crs,
        "layer": job.layer,
        "dbf_encoding": job.dbf_encoding,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "summary": summary,
        "headline": headline,
        "error": job.error,
        "may_commit": refusal is None,
        "commit_refusal": refusal or "",
        "created_at": job.created_at.isoformat(),
        "validated_at": job.validated_at.isoformat() if job.validated_at else None,
        "committed_at": job.committed_at.isoformat() if job.committed_at else None,
        "urls": {
            "page": reverse("import-page", args=[job.pk]),
            "self": reverse("import-job", args=[job.pk]),
            "mapping": reverse("import-mapping", args=[job.pk]),
            "validate": reverse("import-validate", args=[job.pk]),
            "commit": reverse("import-commit", args=[job.pk]),
            "findings": reverse("import-findings", args=[job.pk]),
            "report_csv": reverse("import-report-csv", args=[job.pk]),
            "report_xlsx": reverse("import-report-xlsx", args=[job.pk]),
        },
    }


def describe_new_job(job: ImportJob) -> dict[str, Any]:
    """A job just uploaded: with the elements its columns map to."""
    return {**describe_job(job), "elements": jobs.elements_for(job.dataset)}


class ImportView(GenericAPIView):
    model = ImportJob
    permission_classes = [MayImport]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        # A job whose worker died is shown failed as soon as its heartbeat is missed.
        jobs.fail_abandoned_imports(requester=self.request.user)
        return ImportJob.objects.visible_to(self.request.user)

    def job(self, pk: int) -> ImportJob:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def answer(self, data: Any, status_code: int = status.HTTP_200_OK) -> Response:
        response = Response(data, status=status_code)
        patch_cache_control(response, private=True, no_store=True)
        return response


class ImportJobList(ImportView):
    @extend_schema(
        tags=TAGS,
        operation_id="imports_list",
        summary="我的导入任务 / my import jobs",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        recent = self.get_queryset().order_by("-created_at", "-id")[:RECENT_JOBS]
        return self.answer([describe_job(job) for job in recent])

    @extend_schema(
        tags=TAGS,
        summary="上传文件 / upload a file (multipart: file, dataset, source)",
        request={"multipart/form-data": OpenApiTypes.OBJECT},
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        try:
            # Reading the body stores a large file in a temporary one: the disk can fill here too.
            upload = request.FILES.get("file")
            if upload is None:
                refuse("file", "file.missing", "请选择文件 / choose a file to upload")
            job = jobs.create_job(
                request.user,
                upload,
                upload.name or "upload",
                dataset=request.data.get("dataset") or Dataset.EQUIPMENT,
                source=request.data.get("source") or "",
            )
        except (StorageFull, OSError) as error:
            if not storage_full(error):
                raise
            discard_partial_upload(request._request)
            return self.answer(
                envelope(error_dict({"file": StorageFull.message}, rule=STORAGE_FULL_RULE)),
                status.HTTP_507_INSUFFICIENT_STORAGE,
            )
        return self.answer(describe_new_job(job), status.HTTP_201_CREATED)


def discard_partial_upload(request: HttpRequest) -> None:
    """Remove what Django's upload handlers wrote of a body the disk could not take: the
    temporary file is deleted when closed, not when the failed request is dropped."""
    for handler in getattr(request, "upload_handlers", None) or ():
        partial = getattr(handler, "file", None)
        if partial is not None:
            partial.close()


class ImportJobDetail(ImportView):
    @extend_schema(tags=TAGS, summary="导入任务 / an import job", responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return self.answer(describe_new_job(self.job(pk)))


class ImportJobMapping(ImportView):
    @extend_schema(
        tags=TAGS, summary="导入任务 / the job (as GET on it)", responses=OpenApiTypes.OBJECT
    )
    def get(self, request, pk: int):
        return self.answer(describe_new_job(self.job(pk)))

    @extend_schema(
        tags=TAGS,
        summary="列映射 / set the mapping, CRS, layer, encoding",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request, pk: int):
        job = jobs.set_mapping(
            self.job(pk),
            mapping=request.data.get("mapping"),
            source_crs=request.data.get("source_crs"),
            layer=request.data.get("layer"),
            encoding=request.data.get("encoding"),
        )
        return self.answer(describe_new_job(job))


class ImportJobRun(ImportView):
    commit = False

    @extend_schema(
        tags=TAGS, summary="导入任务 / the job (as GET on it)", responses=OpenApiTypes.OBJECT
    )
    def get(self, request, pk: int):
        return self.answer(describe_job(self.job(pk)))

    @extend_schema(tags=TAGS, request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        job = jobs.request_run(self.job(pk), commit=self.commit, acting_user=request.user)
        return self.answer(describe_job(job), status.HTTP_202_ACCEPTED)


class ImportJobValidate(ImportJobRun):
    """Queue a dry run: every row validated, nothing written."""


class ImportJobCommit(ImportJobRun):
    """Queue the commit: refused (400) unless the last dry run used this mapping and found no error."""

    commit = True


class FindingsPage(PageNumberPagination):
    """`page` and `page_size` with bounds: a value out of them is a 400 naming it, not a clamp."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    max_page = 10_000_000

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return whole_number(raw, self.page_size_query_param, 1, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        if (raw := request.query_params.get(self.page_query_param)) not in (None, "last"):
            whole_number(raw, self.page_query_param, 1, self.max_page)
        return super().paginate_queryset(queryset, request, view)


class ImportJobFindings(ImportView):
    pagination_class = FindingsPage

    @extend_schema(
        tags=TAGS,
        summary="试运行发现的问题 / the report's findings (?severity=error|warning&page=)",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk: int):
        job = self.job(pk)
        findings = ImportFinding.objects.filter(job=job).order_by("row", "id")
        severity = request.query_params.get("severity") or ""
        if severity:
            if severity not in (ERROR, WARNING):
                refuse(
                    "severity", "severity.unknown", "级别须为 error 或 warning / error or warning"
                )
            findings = findings.filter(severity=severity)
        page = self.paginate_queryset(
            findings.values(
                "id", "row", "column", "value", "severity", "rule", "message", "suggestion"
            )
        )
        response = self.get_paginated_response(list(page))
        patch_cache_control(response, private=True, no_store=True)
        return response


class ImportJobReportCsv(ImportView):
    @extend_schema(tags=TAGS, summary="报告 CSV / the report as CSV", responses=OpenApiTypes.BINARY)
    def get(self, request, pk: int):
        job = self.job(pk)
        audit.record(request.user, "import.report_downloaded", job, after={"format": "csv"})
        response = StreamingHttpResponse(
            report.report_csv(job), content_type="text/csv; charset=utf-8"
        )
        return _attachment(response, job, "csv")


class ImportJobReportXlsx(ImportView):
    @extend_schema(
        tags=TAGS, summary="报告 XLSX / the report as XLSX", responses=OpenApiTypes.BINARY
    )
    def get(self, request, pk: int):
        job = self.job(pk)
        audit.record(request.user, "import.report_downloaded", job, after={"format": "xlsx"})
        # Spooled: small reports stay in memory, large ones go to a temporary file.
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (FileResponse closes it)
        report.report_xlsx(job, spool)
        spool.seek(0)
        response = FileResponse(
            spool,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        return _attachment(response, job, "xlsx")


def _attachment(response, job: ImportJob, extension: str):
    name = report.report_name(job, extension)
    response["Content-Disposition"] = content_disposition_header(True, name)
    patch_cache_control(response, private=True, no_store=True)
    return response
