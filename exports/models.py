"""The exports users ask for: what they submitted, progress, outcome and the file (exports/jobs.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.jobs import Job


class ExportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ExportJobQuerySet":
        # An export is its requester's alone: not even a national administrator opens another
        # user's file (it was cut to the requester's jurisdiction and filters).
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(requester=user)

    def active(self) -> "ExportJobQuerySet":
        return self.filter(state__in=ExportJob.active_states())


class ExportJob(Job):
    """One export a user asked for: what they submitted, the estimate, progress and outcome, and
    the file it left (under settings.EXPORT_ROOT) until it expires. See exports/jobs.py."""

    class State(models.TextChoices):
        # The kernel's states (common.jobs.JobState), then the export's outcomes.
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导出中")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")
        DONE = "done", _("已完成")
        EXPIRED = "expired", _("已过期")

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("申请人"),
    )
    # Strings as submitted (layer, format, crs, region, bbox, polygon, filters): the job parses
    # them again when it runs, so it is scoped by the jurisdiction the requester has then.
    parameters = models.JSONField(_("参数"))
    estimate = models.PositiveIntegerField(_("预计行数"))
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.QUEUED)
    file_path = models.CharField(
        _("文件"), max_length=255, blank=True, help_text="relative to EXPORT_ROOT"
    )
    file_name = models.CharField(_("下载文件名"), max_length=255, blank=True)
    ascii_file_name = models.CharField(max_length=255, blank=True)
    file_size = models.BigIntegerField(_("文件大小"), null=True, blank=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导出任务")
        verbose_name_plural = pgettext_lazy("plural", "导出任务")
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
