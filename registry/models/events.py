"""Accidents and the emergency resources that answer them."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import ScopedQuerySet

from .checks import not_empty
from .equipment import Equipment
from .units import Unit


class Severity(models.TextChoices):
    ORDINARY = "ordinary", _("一般事故")
    LARGE = "large", _("较大事故")
    MAJOR = "major", _("重大事故")
    EXTRAORDINARY = "extraordinary", _("特别重大事故")


class CauseClass(models.TextChoices):
    USE_MANAGEMENT = "use_management", _("使用管理")
    DEFECT = "defect", _("设备缺陷")
    SAFETY_DEVICE = "safety_device", _("安全附件失效")
    OTHER = "other", _("其他")


class PlaceType(models.TextChoices):
    """Where an accident happened, as accident statistics group it (场所类型)."""

    RESIDENTIAL = "residential", _("住宅小区")
    PUBLIC = "public", _("公共场所")
    FACTORY = "factory", _("工矿企业")
    CONSTRUCTION = "construction", _("建筑工地")
    LOGISTICS = "logistics", _("仓储物流")
    LEISURE = "leisure", _("游乐场所")
    OTHER = "other", _("其他")


class InvestigationStatus(models.TextChoices):
    OPEN = "open", _("调查中")
    CLOSED = "closed", _("已结案")


class Accident(models.Model):
    """A special-equipment accident: where, what, how bad, why."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    occurred_at = models.DateTimeField(_("发生时间"), db_index=True)
    location = models.PointField(_("位置"), srid=4326, null=True, blank=True)
    address = models.CharField(_("地点"), max_length=200, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    equipment = models.ForeignKey(
        Equipment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accidents",
        verbose_name=_("设备"),
    )
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accidents",
        verbose_name=_("使用单位"),
    )
    kind = models.CharField(_("事故类型"), max_length=32)
    severity = models.CharField(
        _("事故等级"), max_length=16, choices=Severity.choices, default=Severity.ORDINARY
    )
    deaths = models.PositiveIntegerField(_("死亡人数"), default=0)
    injuries = models.PositiveIntegerField(_("受伤人数"), default=0)
    direct_loss = models.DecimalField(
        _("直接经济损失（万元）"), max_digits=12, decimal_places=2, default=0
    )
    cause_class = models.CharField(
        _("原因分类"), max_length=16, choices=CauseClass.choices, default=CauseClass.OTHER
    )
    place_type = models.CharField(
        _("场所类型"),
        max_length=16,
        choices=PlaceType.choices,
        default=PlaceType.OTHER,
        db_default=PlaceType.OTHER,
    )
    investigation_status = models.CharField(
        _("调查状态"),
        max_length=8,
        choices=InvestigationStatus.choices,
        default=InvestigationStatus.OPEN,
    )
    description = models.TextField(_("经过"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "事故")
        verbose_name_plural = _("事故")
        ordering = ["-occurred_at"]
        constraints = [
            models.CheckConstraint(
                condition=not_empty("location"), name="accident_location_not_empty"
            )
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind} ({self.get_severity_display()})"


class ResourceType(models.TextChoices):
    RESCUE_TEAM = "rescue_team", _("救援队伍")
    MAINTENANCE_STATION = "maintenance_station", _("维保站点")
    FIRE_STATION = "fire_station", _("消防救援站")
    HOSPITAL = "hospital", _("医院")
    HAZMAT_TEAM = "hazmat_team", _("危化品处置队")
    LIFTING_DEPOT = "lifting_depot", _("起重设备库")


class EmergencyResource(models.Model):
    """A team, station or depot that can be sent to an incident."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    name = models.CharField(_("名称"), max_length=128)
    resource_type = models.CharField(
        _("类型"), max_length=20, choices=ResourceType.choices, db_index=True
    )
    capability = models.CharField(_("能力"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    duty_hours = models.CharField(_("值守时间"), max_length=32, default="24h")
    location = models.PointField(_("位置"), srid=4326)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("所属单位")
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "应急资源")
        verbose_name_plural = _("应急资源")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=not_empty("location"), name="resource_location_not_empty"
            )
        ]

    def __str__(self) -> str:
        return self.name
