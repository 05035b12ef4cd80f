"""What the map keeps besides the registry: equipment counted per tile grid cell (layers.cells),
and the exports users ask for (layers/export/jobs.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EquipmentCell(models.Model):
    """Devices of one grid cell, region prefix, variety and status; maintained by layers.cells."""

    level = models.PositiveSmallIntegerField(_("网格级别 / grid level"))
    depth = models.PositiveSmallIntegerField(_("区划代码位数 / region-prefix digits"))
    region = models.CharField(_("区划代码前缀 / region prefix"), max_length=6)
    gx = models.IntegerField()
    gy = models.IntegerField()
    # Not foreign keys: derived rows, written by a trigger; a code is what a filter compares.
    variety_id = models.CharField(_("设备品种 / variety"), max_length=4)
    kind = models.CharField(_("设备种类 / kind"), max_length=4)
    status = models.CharField(_("设备状态 / status"), max_length=12)
    n = models.IntegerField(_("设备数 / devices"))
    sx = models.FloatField(help_text="sum of longitudes")
    sy = models.FloatField(help_text="sum of latitudes")

    class Meta:
        verbose_name = _("网格计数 / grid cell count")
        constraints = [
            # The upsert key and the tile read's index: equality on level, depth and region
            # (a range for a 3- or 5-digit prefix), then a range on gx.
            models.UniqueConstraint(
                fields=["level", "depth", "region", "gx", "gy", "variety_id", "kind", "status"],
                name="equipmentcell_key",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"L{self.level} ({self.gx}, {self.gy}) {self.region or '*'} {self.variety_id}: {self.n}"
        )


class ExportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ExportJobQuerySet":
        # An export is its requester's alone: not even a national administrator opens another
        # user's file (it was cut to the requester's jurisdiction and filters).
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(requester=user)

    def active(self) -> "ExportJobQuerySet":
        return self.filter(state__in=[ExportJob.State.QUEUED, ExportJob.State.RUNNING])


class ExportJob(models.Model):
    """One export a user asked for: what they submitted, the estimate, progress and outcome, and
    the file it left (under settings.EXPORT_ROOT) until it expires. See layers/export/jobs.py."""

    class State(models.TextChoices):
        QUEUED = "queued", _("排队中 / queued")
        RUNNING = "running", _("导出中 / running")
        DONE = "done", _("已完成 / done")
        FAILED = "failed", _("失败 / failed")
        EXPIRED = "expired", _("已过期 / expired")

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("申请人 / requester"),
    )
    # Strings as submitted (layer, format, crs, region, bbox, polygon, filters): the job parses
    # them again when it runs, so it is scoped by the jurisdiction the requester has then.
    parameters = models.JSONField(_("参数 / parameters"))
    estimate = models.PositiveIntegerField(_("预计行数 / estimated rows"))
    state = models.CharField(
        _("状态 / state"), max_length=8, choices=State.choices, default=State.QUEUED
    )
    rows_done = models.PositiveIntegerField(_("已导出行数 / rows done"), default=0)
    rows_total = models.PositiveIntegerField(_("总行数 / rows in all"), null=True, blank=True)
    error = models.TextField(_("错误信息 / error"), blank=True)
    file_path = models.CharField(
        _("文件 / file"), max_length=255, blank=True, help_text="relative to EXPORT_ROOT"
    )
    file_name = models.CharField(_("下载文件名 / download name"), max_length=255, blank=True)
    ascii_file_name = models.CharField(max_length=255, blank=True)
    file_size = models.BigIntegerField(_("文件大小 / file size"), null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="the queue's task result")
    worker = models.CharField(
        max_length=128, blank=True, help_text="host:pid of the process running the export"
    )
    created_at = models.DateTimeField(_("提交时间 / submitted"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间 / started"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last progress report")
    finished_at = models.DateTimeField(_("结束时间 / finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("过期时间 / expires"), null=True, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导出任务 / export job")
        verbose_name_plural = _("导出任务 / export jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requester", "-created_at"], name="exportjob_requester")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="done") | ~models.Q(file_path=""),
                name="exportjob_done_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.parameters.get('layer')} ({self.state})"
