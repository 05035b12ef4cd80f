"""File imports: one job per uploaded file, its per-row findings, and column mappings saved per source."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.jobs import Job


class Dataset(models.TextChoices):
    EQUIPMENT = "equipment", _("设备")
    UNITS = "units", pgettext_lazy("plural", "单位")
    PERSONS = "persons", _("人员")
    INSPECTIONS = "inspections", _("检验记录")
    ACCIDENTS = "accidents", _("事故")


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> ImportJobQuerySet:
        # A file is its uploader's: it may hold rows of any county in their jurisdiction, and a
        # colleague elsewhere must not read them through the report.
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(requester=user)


class ImportJob(Job):
    """One uploaded file on its way in: mapping, dry run, commit, with progress and the outcome."""

    class State(models.TextChoices):
        # The kernel's states (common.jobs.JobState; a run is validating or committing), then the
        # import's own.
        QUEUED = "queued", _("排队中")
        VALIDATING = "validating", _("校验中")
        COMMITTING = "committing", _("入库中")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")
        UPLOADED = "uploaded", _("已上传")
        VALIDATED = "validated", _("已校验")
        COMMITTED = "committed", _("已入库")

    RUNNING_STATES = (State.VALIDATING, State.COMMITTING)

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("上传人"),
    )
    token = models.CharField(max_length=32, unique=True, help_text="the upload's directory")
    original_name = models.CharField(_("文件名"), max_length=255)
    format = models.CharField(_("格式"), max_length=8)
    encoding = models.CharField(_("编码"), max_length=16, blank=True)
    size = models.BigIntegerField(_("大小"), default=0)
    dataset = models.CharField(
        _("数据类别"), max_length=12, choices=Dataset.choices, default=Dataset.EQUIPMENT
    )
    source = models.CharField(
        _("数据来源"),
        max_length=64,
        blank=True,
        help_text=_("同一来源的列映射会被记住"),
    )
    # element name → the file's column, e.g. {"device_code": "设备代码"}
    mapping = models.JSONField(_("列映射"), default=dict, blank=True)
    source_crs = models.CharField(_("坐标系"), max_length=12, default="wgs84")
    layer = models.CharField(_("图层或工作表"), max_length=128, blank=True)
    dbf_encoding = models.CharField(_("DBF 编码"), max_length=16, blank=True)
    state = models.CharField(
        _("状态"), max_length=12, choices=State.choices, default=State.UPLOADED
    )
    # rows, errors, warnings, new, changed, unchanged, units_new, seconds, rows_per_second
    summary = models.JSONField(_("结果"), default=dict, blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    validated_at = models.DateTimeField(_("校验时间"), null=True, blank=True)
    committed_at = models.DateTimeField(_("入库时间"), null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = pgettext_lazy("plural", "导入任务")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requester", "-created_at"], name="importjob_requester")]

    def __str__(self) -> str:
        return f"import #{self.pk} {self.original_name} ({self.state})"


class ImportFinding(models.Model):
    """One problem (or note) the dry run found in one cell of the file."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="findings")
    row = models.PositiveIntegerField(_("行"))
    column = models.CharField(_("列"), max_length=128, blank=True)
    value = models.CharField(_("值"), max_length=200, blank=True)
    rule = models.CharField(_("规则"), max_length=64)
    severity = models.CharField(_("级别"), max_length=8)
    message = models.TextField(_("说明"))
    suggestion = models.CharField(_("建议"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("导入问题")
        verbose_name_plural = pgettext_lazy("plural", "导入问题")
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importfinding_job_row")]

    def __str__(self) -> str:
        return f"row {self.row} {self.rule}"


class SavedMapping(models.Model):
    """The column mapping last used for a source's files of one dataset, offered for its next file."""

    agency = models.ForeignKey(
        "accounts.Agency", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.CharField(_("数据来源"), max_length=64)
    dataset = models.CharField(_("数据类别"), max_length=12, choices=Dataset.choices)
    mapping = models.JSONField(_("列映射"))
    source_crs = models.CharField(_("坐标系"), max_length=12, default="wgs84")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("列映射")
        verbose_name_plural = pgettext_lazy("plural", "列映射")
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "source", "dataset"],
                name="savedmapping_per_source",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} ({self.dataset})"
