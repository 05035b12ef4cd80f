"""Licences of units (行政许可: design, manufacture, installation/modification/repair, filling,
inspection-body approval), their scope, and the online applications that lead to them."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Equipment, Unit

EXPIRING_DAYS = 90  # "licences expiring in the next 90 days" (issue 23)


class LicenceKind(models.TextChoices):
    DESIGN = "design", _("设计")
    MANUFACTURE = "manufacture", _("制造")
    INSTALLATION = "installation", _("安装改造修理")
    FILLING = "filling", _("充装")
    INSPECTION = "inspection", _("检验检测机构核准")


class LicenceStatus(models.TextChoices):
    VALID = "valid", _("有效")
    SUSPENDED = "suspended", _("暂停")
    REVOKED = "revoked", _("撤销")
    # Never stored: derived from the expiry date (Licence.standing).
    EXPIRED = "expired", _("过期")


def _own_unit(rows, user, field: str = "unit_id"):
    """An enterprise account reads its own unit's rows only; every other role its jurisdiction's."""
    if getattr(user, "role", None) != "enterprise":
        return rows
    unit = getattr(getattr(user, "licensing_account", None), "unit_id", None)
    return rows.filter(**{field: unit}) if unit else rows.none()


class LicenceQuerySet(ScopedQuerySet):
    def visible_to(self, user):
        return _own_unit(super().visible_to(user), user)

    def valid_on(self, day: dt.date) -> LicenceQuerySet:
        """In force that day: issued, not past expiry, not suspended or revoked by then."""
        return self.filter(issued_on__lte=day, expires_on__gte=day).exclude(
            status__in=[LicenceStatus.SUSPENDED, LicenceStatus.REVOKED], status_since__lte=day
        )

    def expiring(self, day: dt.date, days: int = EXPIRING_DAYS) -> LicenceQuerySet:
        return self.valid_on(day).filter(expires_on__lte=day + dt.timedelta(days=days))


class Licence(models.Model):
    """A unit's licence (许可证): kind, scope, number, authority, dates and status."""

    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="licences", verbose_name=_("持证单位")
    )
    kind = models.CharField(_("许可类别"), max_length=16, choices=LicenceKind.choices)
    # 64: the filling licences the cylinders register held before (cylinders migration 0004).
    number = models.CharField(_("许可证编号"), max_length=64, unique=True)
    authority = models.CharField(_("发证机关"), max_length=128)
    issued_on = models.DateField(_("发证日期"))
    expires_on = models.DateField(_("有效期至"), db_index=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=LicenceStatus.choices[:3],
        default=LicenceStatus.VALID,
    )  # fmt: skip
    # The day the stored status took effect: a licence revoked today still covered last year.
    status_since = models.DateField(_("状态生效日期"))
    # The unit's region, copied at write time: scoped reads are one indexed prefix test.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("区划"))

    objects = LicenceQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "许可证")
        verbose_name_plural = _("许可证")
        ordering = ["expires_on", "pk"]
        indexes = [models.Index(fields=["unit", "kind"], name="licence_unit_kind")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__gt=models.F("issued_on")), name="licence_dates"
            )
        ]

    def __str__(self) -> str:
        return self.number

    def standing(self, on: dt.date) -> str:
        """The status as of that day: suspended/revoked once in effect, else expired past expiry."""
        if self.status != LicenceStatus.VALID and self.status_since <= on:
            return self.status
        return LicenceStatus.EXPIRED if self.expires_on < on else LicenceStatus.VALID


class LicenceScope(models.Model):
    """One catalogue kind/class/variety (and grade) a licence covers (licensing/data/scope_grades.csv)."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="scope")
    code = models.CharField(_("目录代码"), max_length=4)
    grade = models.CharField(_("级别"), max_length=8, blank=True)

    class Meta:
        verbose_name = _("许可范围")
        constraints = [
            models.UniqueConstraint(fields=["licence", "code", "grade"], name="licence_scope_once")
        ]
        indexes = [models.Index(fields=["code", "licence"], name="licence_scope_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.grade}".strip()


class ApplicationState(models.TextChoices):
    SUBMITTED = "submitted", _("已提交")
    UNDER_REVIEW = "under_review", _("审查中")
    CHANGES_REQUESTED = "changes_requested", _("待补正")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("不予许可")


class ApplicationQuerySet(ScopedQuerySet):
    def visible_to(self, user):
        """The jurisdiction's applications; an enterprise account only its own unit's."""
        return _own_unit(super().visible_to(user), user)


class Application(models.Model):
    """An application for a licence (行政许可申请) and where it stands."""

    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="licence_applications",
        verbose_name=_("申请单位"),
    )  # fmt: skip
    kind = models.CharField(_("许可类别"), max_length=16, choices=LicenceKind.choices)
    # [{"code": "4000", "grade": "A"}, ...] as asked; becomes LicenceScope rows on approval.
    scope = models.JSONField(_("申请范围"), default=list)
    note = models.TextField(_("申请说明"), blank=True)
    state = models.CharField(
        _("状态"), max_length=20, choices=ApplicationState.choices,
        default=ApplicationState.SUBMITTED,
    )  # fmt: skip
    step_started_on = models.DateField(_("本环节开始"))
    step_due_on = models.DateField(_("本环节期限"), null=True, blank=True)
    reasons = models.TextField(_("审查意见"), blank=True)
    licence = models.OneToOneField(
        Licence, null=True, blank=True, on_delete=models.PROTECT, related_name="application"
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    filed_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("区划"))

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "许可申请")
        verbose_name_plural = _("许可申请")
        ordering = ["-filed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.kind} {self.state}"

    def overdue(self, on: dt.date) -> bool:
        return self.step_due_on is not None and self.step_due_on < on


class ApplicationStepQuerySet(ScopedQuerySet):
    scope_lookup = "application__region__code"


class ApplicationStep(models.Model):
    """One step of an application's history: who moved it where, when, and why."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="steps")
    verb = models.CharField(_("操作"), max_length=20)
    state = models.CharField(_("进入状态"), max_length=20, choices=ApplicationState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(_("时间"), auto_now_add=True)
    on = models.DateField(_("日期"))
    note = models.TextField(_("说明"), blank=True)

    objects = ApplicationStepQuerySet.as_manager()

    class Meta:
        verbose_name = _("申请环节")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.verb}"


class UnitAccount(models.Model):
    """Which unit an enterprise account acts for (its applications and licences)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="licensing_account"
    )
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("企业账户所属单位")

    def __str__(self) -> str:
        return f"{self.user_id} → {self.unit_id}"


class FindingAction(models.Model):
    """What a supervisor did about an unlicensed-activity finding (查处): the finding is the device,
    the unit and the licence kind it lacked (no device for a station's filling); recorded once or
    more, each audited. A finding with one counts as acted on (无证生产查处率)."""

    equipment = models.ForeignKey(
        Equipment, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("设备"),
    )  # fmt: skip
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="+", verbose_name=_("无证单位")
    )
    kind = models.CharField(_("所需许可"), max_length=16, choices=LicenceKind.choices)
    action = models.TextField(_("查处措施"))
    acted_on = models.DateField(_("查处日期"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    # The finding's region (its device's, or the station's): scoped reads are one prefix test.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("区划"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("无证查处记录")
        ordering = ["-acted_on", "-pk"]
        indexes = [models.Index(fields=["unit", "kind"], name="finding_action_unit_kind")]

    def __str__(self) -> str:
        return f"{self.equipment_id} {self.unit_id} {self.kind}"

    @property
    def key(self) -> tuple[int | None, int, str]:
        return (self.equipment_id, self.unit_id, self.kind)
