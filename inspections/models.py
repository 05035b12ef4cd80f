"""Supervisory inspections (监督检验) at manufacture and installation, the inspection bodies' feed
accounts, and what each body sent through the feed (or a file), record by record."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.i18n import choice_label
from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Equipment, Inspection, Unit
from registry.models.equipment import InspectionConclusion, InspectionKind


class Stage(models.TextChoices):
    MANUFACTURE = "manufacture", _("制造监督检验")
    INSTALLATION = "installation", _("安装监督检验")
    MODIFICATION = "modification", _("改造监督检验")
    MAJOR_REPAIR = "major_repair", _("重大修理监督检验")


class SupervisoryQuerySet(ScopedQuerySet):
    scope_lookup = "equipment__region__code"


class SupervisoryInspection(models.Model):
    """A supervisory inspection of one device at one stage, by an inspection body, with its
    conclusion and certificate (监督检验证书)."""

    equipment = models.ForeignKey(
        Equipment, on_delete=models.PROTECT, related_name="supervisory_inspections",
        verbose_name=_("设备"),
    )  # fmt: skip
    stage = models.CharField(_("阶段"), max_length=16, choices=Stage.choices)
    body = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="supervisory_inspections_done",
        verbose_name=_("检验机构"),
    )  # fmt: skip
    inspected_on = models.DateField(_("检验日期"))
    conclusion = models.CharField(
        _("检验结论"), max_length=12, choices=InspectionConclusion.choices
    )
    certificate_number = models.CharField(_("监督检验证书编号"), max_length=40, blank=True)
    report_number = models.CharField(_("报告编号"), max_length=40)
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = SupervisoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("监督检验")
        verbose_name_plural = pgettext_lazy("plural", "监督检验")
        ordering = ["-inspected_on", "-id"]
        constraints = [
            # A body's report numbers are its own: the feed's idempotence rests on this.
            models.UniqueConstraint(fields=["body", "report_number"], name="supervisory_report_once"),
            # A passed inspection stands on its certificate.
            models.CheckConstraint(
                condition=models.Q(conclusion="fail") | ~models.Q(certificate_number=""),
                name="supervisory_passed_has_certificate",
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["equipment", "stage"], name="supervisory_equipment_stage")]

    def __str__(self) -> str:
        return f"{self.report_number} {self.get_stage_display()}"


class FeedAccount(models.Model):
    """An inspection body's machine account for the feed: a user of role inspector whose agency's
    region is the area the body is authorised for, and the catalogue kinds it may inspect. Its
    credential is that user's API token (accounts.tokens: SHA-256 digest at rest, revocable)."""

    body = models.OneToOneField(
        Unit, on_delete=models.PROTECT, related_name="feed_account",
        verbose_name=_("检验机构"),
    )  # fmt: skip
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feed_account"
    )
    kinds = ArrayField(models.CharField(max_length=4), verbose_name=_("核准检验的设备种类"))
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("核准区域"))
    created_at = models.DateTimeField(auto_now_add=True)

    # Scoped by the body's own region: a supervisor sees the accounts of the bodies in the area.
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("检验机构接口账号")

    def __str__(self) -> str:
        return f"{self.body} feed"


class BodyMember(models.Model):
    """A person who works for an inspection body (an inspector's account): signed in, they read
    their own body's page and no other body's."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inspection_body"
    )
    body = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="+", verbose_name=_("检验机构")
    )

    class Meta:
        verbose_name = _("检验机构人员")

    def __str__(self) -> str:
        return f"{self.user_id} → {self.body_id}"


def own_body(user) -> int | None:
    """The inspection body the user works for: its member's, or the body whose feed account the
    user is (None for everyone else)."""
    if user is None or not user.is_authenticated:
        return None
    member = BodyMember.objects.filter(user=user).values_list("body_id", flat=True).first()
    if member is not None:
        return member
    return FeedAccount.objects.filter(user=user).values_list("body_id", flat=True).first()


class Via(models.TextChoices):
    API = "api", _("接口")
    FILE = "file", _("文件导入")


class FeedBatch(models.Model):
    """One batch a body sent: its counts; its records say what became of each."""

    body = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="feed_batches")
    via = models.CharField(max_length=4, choices=Via.choices)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # The body's region: the batch's counts are no one else's business.
    region = models.ForeignKey(Region, on_delete=models.PROTECT)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("检验数据批次")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.body_id} {self.received_at:%Y-%m-%d %H:%M}"


class RecordStatus(models.TextChoices):
    ACCEPTED = "accepted", _("已接收")
    DUPLICATE = "duplicate", _("重复（已确认）")
    REFUSED = "refused", _("拒收")


class FeedRecord(models.Model):
    """One record of a batch: the report it carried, what became of it and why."""

    batch = models.ForeignKey(FeedBatch, on_delete=models.CASCADE, related_name="records")
    body = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    report_number = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=16, blank=True)
    device_code = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=12, choices=RecordStatus.choices)
    errors = models.JSONField(default=dict, blank=True)
    # SHA-256 of the record as read: a repeat with the same digest is acknowledged, a changed one
    # refused (a correction is the supervisor's, through the registry's pages).
    digest = models.CharField(max_length=64, blank=True)
    inspection = models.ForeignKey(
        Inspection, null=True, on_delete=models.PROTECT, related_name="+"
    )
    supervisory = models.ForeignKey(
        SupervisoryInspection, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The device's region once it was found; the body's when it was not (a refused record).
    region = models.ForeignKey(Region, on_delete=models.PROTECT)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("检验数据记录")
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["body", "report_number"], condition=models.Q(status="accepted"),
                name="feed_report_accepted_once",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.report_number} {self.status}"

    @property
    def kind_label(self) -> str:
        """The kind as sent, named in the reader's language when it is one the feed knows."""
        return choice_label(InspectionKind, self.kind)
