"""Equipment, its inspections and its append-only life-cycle history."""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import IsValid
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.db.models.functions import Left
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import ScopedQuerySet

from .catalogue import Variety
from .checks import not_empty
from .identifiers import already_registered
from .units import Person, Unit

PIPELINE_KIND = "8000"


class EquipmentStatus(models.TextChoices):
    IN_USE = "in_use", _("在用")
    SUSPENDED = "suspended", _("停用")
    CANCELLED = "cancelled", _("注销")
    SCRAPPED = "scrapped", _("报废")


def overdue_condition(on: dt.date) -> Q:
    """In use and past the due date on `on`, or left with none by a failed inspection: the one
    definition of overdue, for filters and for conditional counts alike."""
    return Q(status=EquipmentStatus.IN_USE) & (
        Q(next_inspection_due__lt=on) | Q(next_inspection_due__isnull=True)
    )


class EquipmentQuerySet(ScopedQuerySet):
    def of_kind(self, kind_code: str) -> EquipmentQuerySet:
        return self.filter(kind=kind_code)

    def in_service(self) -> EquipmentQuerySet:
        return self.filter(status=EquipmentStatus.IN_USE)

    def overdue(self, on: dt.date | None = None) -> EquipmentQuerySet:
        """In-use equipment past its due date, or left with none by a failed inspection."""
        return self.filter(overdue_condition(on or dt.date.today()))

    def by_code(self, code: str) -> EquipmentQuerySet:
        """Any identifier a caller reads off a plate, a certificate or a 96333 sign."""
        code = code.strip().upper()
        return self.filter(
            Q(device_code=code)
            | Q(registration_code=code)
            | Q(certificate_number=code)
            | Q(rescue_id=code)
        )


class Equipment(models.Model):
    """A registered device (or pipeline) at its place of use."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    device_code = models.CharField(_("设备代码"), max_length=19, unique=True, null=True, blank=True)
    registration_code = models.CharField(_("注册代码"), max_length=20, blank=True, db_index=True)
    certificate_number = models.CharField(
        _("使用登记证编号"), max_length=32, blank=True, db_index=True
    )
    rescue_id = models.CharField(_("96333救援识别码"), max_length=6, blank=True, db_index=True)
    variety = models.ForeignKey(Variety, on_delete=models.PROTECT, verbose_name=_("设备品种"))
    # Denormalised from the variety so map filters by kind use one index.
    kind = models.CharField(_("设备种类"), max_length=4, db_index=True, editable=False)
    status = models.CharField(
        _("设备状态"),
        max_length=12,
        choices=EquipmentStatus.choices,
        default=EquipmentStatus.IN_USE,
        db_index=True,
    )
    location = models.PointField(_("位置"), srid=4326, null=True, blank=True)
    route = models.MultiLineStringField(_("管道走向"), srid=4326, null=True, blank=True)
    source_crs = models.CharField(_("原始坐标系"), max_length=12, default="wgs84")
    address = models.CharField(_("设备使用地点"), max_length=200, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    declared_region_code = models.CharField(_("申报区划代码"), max_length=6, blank=True)
    region_mismatch = models.BooleanField(_("区划不一致"), default=False, db_index=True)
    use_unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        related_name="equipment_used",
        verbose_name=_("使用单位"),
    )
    maintenance_unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="equipment_maintained",
        verbose_name=_("维保单位"),
    )
    manufacturer = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="equipment_made",
        verbose_name=_("制造单位"),
    )
    installer = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="equipment_installed",
        verbose_name=_("安装单位"),
    )
    manufactured_on = models.DateField(_("制造日期"), null=True, blank=True)
    commissioned_on = models.DateField(_("投入使用日期"), null=True, blank=True)
    params = models.JSONField(_("技术参数"), default=dict, blank=True)
    next_inspection_due = models.DateField(_("下次检验日期"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = EquipmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("设备")
        verbose_name_plural = _("设备")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["region", "kind", "status"], name="equipment_region_kind_status"),
        ]
        constraints = [
            # Pipelines are lines; everything else is a point. Either may be missing in legacy data.
            models.CheckConstraint(
                condition=(Q(kind=PIPELINE_KIND) & Q(location__isnull=True))
                | (~Q(kind=PIPELINE_KIND) & Q(route__isnull=True)),
                name="equipment_geometry_matches_kind",
            ),
            # IsValid rather than the isvalid lookup: constraint validation then copes with an empty route.
            models.CheckConstraint(
                condition=Q(route__isnull=True) | Q(IsValid("route")),
                name="equipment_route_valid",
            ),
            models.CheckConstraint(
                condition=not_empty("location"), name="equipment_location_not_empty"
            ),
            models.CheckConstraint(condition=not_empty("route"), name="equipment_route_not_empty"),
            # The national identifiers name one device each; blank means not assigned
            # (the device code is NULL then, and unique=True above).
            models.UniqueConstraint(
                fields=["registration_code"],
                condition=~Q(registration_code=""),
                name="equipment_registration_code_unique",
                violation_error_message=already_registered("registration_code").message,
            ),
            models.UniqueConstraint(
                fields=["certificate_number"],
                condition=~Q(certificate_number=""),
                name="equipment_certificate_number_unique",
                violation_error_message=already_registered("certificate_number").message,
            ),
            # 96333 assigns six digits per city (the first four digits of the division code):
            # a national index on them would cap the country at 900,000 elevators.
            models.UniqueConstraint(
                Left(F("region_id"), 4),
                F("rescue_id"),
                condition=~Q(rescue_id=""),
                name="equipment_rescue_id_unique_in_city",
                violation_error_message=already_registered("rescue_id").message,
            ),
        ]

    def __str__(self) -> str:
        return self.device_code or self.registration_code or f"#{self.pk}"

    @property
    def geometry(self):
        return self.route if self.kind == PIPELINE_KIND else self.location

    def clean(self) -> None:
        if self.kind == PIPELINE_KIND and self.location is not None:
            raise ValidationError({"location": _("压力管道以管线表示")})
        if self.kind != PIPELINE_KIND and self.route is not None:
            raise ValidationError({"route": _("只有压力管道有走向")})


class InspectionKind(models.TextChoices):
    PERIODIC = "periodic", _("定期检验")
    SUPERVISORY = "supervisory", _("监督检验")
    ACCEPTANCE = "acceptance", _("验收检验")


class InspectionConclusion(models.TextChoices):
    PASS = "pass", _("合格")
    CONDITIONAL = "conditional", _("基本符合要求")
    FAIL = "fail", _("不合格")


class InspectionQuerySet(ScopedQuerySet):
    scope_lookup = "equipment__region__code"


class Inspection(models.Model):
    """One inspection of one device, with its conclusion and the due date it set."""

    equipment = models.ForeignKey(
        Equipment,
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("设备"),
    )
    body = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="inspections_done",
        verbose_name=_("检验机构"),
    )
    inspector = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="inspections_done",
        verbose_name=_("检验员"),
    )
    kind = models.CharField(
        _("检验类别"),
        max_length=12,
        choices=InspectionKind.choices,
        default=InspectionKind.PERIODIC,
    )
    inspected_on = models.DateField(_("检验日期"), db_index=True)
    conclusion = models.CharField(
        _("检验结论"), max_length=12, choices=InspectionConclusion.choices
    )
    defects = models.PositiveSmallIntegerField(_("问题数"), default=0)
    defect_notes = models.TextField(_("问题描述"), blank=True)
    report_number = models.CharField(_("报告编号"), max_length=32, blank=True)
    next_due = models.DateField(_("下次检验日期"), null=True, blank=True)

    objects = InspectionQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "检验记录")
        verbose_name_plural = _("检验记录")
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["equipment", "-inspected_on"], name="inspection_latest")]

    def __str__(self) -> str:
        return f"{self.equipment} {self.inspected_on} {self.get_conclusion_display()}"


class LifecycleEventKind(models.TextChoices):
    MANUFACTURE = "manufacture", _("制造")
    INSTALLATION = "installation", _("安装")
    MODIFICATION = "modification", _("改造")
    MAJOR_REPAIR = "major_repair", _("重大修理")
    REGISTRATION = "registration", _("使用登记")
    CHANGE_OF_USE_UNIT = "change_of_use_unit", _("变更使用单位")
    SUSPENSION = "suspension", _("停用")
    RESUMPTION = "resumption", _("启用")
    CANCELLATION = "cancellation", _("注销")
    # A supervisor's patrol visit (监督检查), with what it found and any order issued.
    SUPERVISION = "supervision", _("监督检查")


class AppendOnlyQuerySet(ScopedQuerySet):
    scope_lookup = "equipment__region__code"

    def update(self, **kwargs):
        raise TypeError("life-cycle history is append-only")

    def delete(self):
        raise TypeError("life-cycle history is append-only")


class LifecycleEvent(models.Model):
    """One step of a device's life; the history is append-only."""

    equipment = models.ForeignKey(
        Equipment,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("设备"),
    )
    kind = models.CharField(_("事件"), max_length=20, choices=LifecycleEventKind.choices)
    occurred_on = models.DateField(_("日期"))
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("相关单位")
    )
    details = models.JSONField(_("详情"), default=dict, blank=True)
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("生命周期事件")
        verbose_name_plural = pgettext_lazy("plural", "生命周期事件")
        ordering = ["occurred_on", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("life-cycle history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("life-cycle history is append-only")
