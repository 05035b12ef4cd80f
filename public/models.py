"""The public face of a device: its QR token, the reports the public sends, and the per-client
counters that rate-limit the public space (kept in the database: shared by every server process)."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Equipment
from registry.personal import mask_phone
from response.models import Incident

REPORT_PERSONAL_FIELDS = {"phone": mask_phone}


class PublicToken(models.Model):
    """The opaque handle a device's QR label carries: random, not the id nor any of its codes."""

    equipment = models.OneToOneField(
        Equipment,
        on_delete=models.CASCADE,
        related_name="public_token",
        verbose_name=_("设备"),
    )
    token = models.CharField(_("令牌"), max_length=64, unique=True)
    issued_at = models.DateTimeField(_("签发时间"))
    # A revoked token answers like one that never existed; reissuing replaces it.
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("公众查询令牌")
        verbose_name_plural = pgettext_lazy("plural", "公众查询令牌")

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.token[:6]}…"


class ReportKind(models.TextChoices):
    TRAPPED = "trapped", _("有人被困")
    HAZARD = "hazard", _("发现隐患")
    OTHER = "other", _("其他问题")


class PublicReportQuerySet(ScopedQuerySet):
    pass


class PublicReport(models.Model):
    """A problem a member of the public reported from a device's page; it opened an incident."""

    incident = models.OneToOneField(
        Incident,
        on_delete=models.PROTECT,
        related_name="public_report",
        verbose_name=_("应急事件"),
    )
    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, related_name="+", verbose_name=_("设备")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("所在区划")
    )
    kind = models.CharField(_("问题类型"), max_length=12, choices=ReportKind.choices)
    description = models.TextField(_("情况说明"), blank=True)
    phone = models.CharField(_("回拨电话"), max_length=20)
    photo = models.BinaryField(_("照片"), null=True, blank=True, editable=False)
    photo_type = models.CharField(_("照片类型"), max_length=20, blank=True)
    received_at = models.DateTimeField(_("收到时间"), db_index=True)

    objects = PublicReportQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "公众报告")
        verbose_name_plural = _("公众报告")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class RateCount(models.Model):
    """Requests of one client (a keyed hash of its address, not the address) to one bucket in one
    fixed window."""

    key = models.CharField(max_length=80)
    window_start = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="public_rate_window")
        ]
