"""The exports users ask for: what they submitted, progress, outcome and the file (exports/jobs.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    the file it left (under settings.EXPORT_ROOT) until it expires. See exports/jobs.py."""

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
        # Created by the layers app before exports existed.
        db_table = "layers_exportjob"
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
