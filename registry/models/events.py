"""Accidents and the emergency resources that answer them."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from geo.models import Region
from geo.scoping import ScopedQuerySet

from .checks import not_empty
from .equipment import Equipment
from .units import Unit


class Severity(models.TextChoices):
    ORDINARY = "ordinary", _("一般事故 / ordinary")
    LARGE = "large", _("较大事故 / large")
    MAJOR = "major", _("重大事故 / major")
    EXTRAORDINARY = "extraordinary", _("特别重大事故 / extraordinarily serious")


class CauseClass(models.TextChoices):
    USE_MANAGEMENT = "use_management", _("使用管理 / use and management")
    DEFECT = "defect", _("设备缺陷 / equipment defect")
    SAFETY_DEVICE = "safety_device", _("安全附件失效 / safety device failure")
    OTHER = "other", _("其他 / other")


class PlaceType(models.TextChoices):
    """Where an accident happened, as accident statistics group it (场所类型)."""

    RESIDENTIAL = "residential", _("住宅小区 / residential")
    PUBLIC = "public", _("公共场所 / public place")
    FACTORY = "factory", _("工矿企业 / factory or mine")
    CONSTRUCTION = "construction", _("建筑工地 / construction site")
    LOGISTICS = "logistics", _("仓储物流 / warehouse or logistics")
    LEISURE = "leisure", _("游乐场所 / amusement venue")
    OTHER = "other", _("其他 / other")


class InvestigationStatus(models.TextChoices):
    OPEN = "open", _("调查中 / under investigation")
    CLOSED = "closed", _("已结案 / closed")


class Accident(models.Model):
    """A special-equipment accident: where, what, how bad, why."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(
        _("版本 / version"), default=1, db_default=1, editable=False
    )

    occurred_at = models.DateTimeField(_("发生时间 / time"), db_index=True)
    location = models.PointField(_("位置 / location"), srid=4326, null=True, blank=True)
    address = models.CharField(_("地点 / address"), max_length=200, blank=True)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, verbose_name=_("所在区划 / region")
    )
    equipment = models.ForeignKey(
        Equipment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accidents",
        verbose_name=_("设备 / equipment"),
    )
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accidents",
        verbose_name=_("使用单位 / unit"),
    )
    kind = models.CharField(_("事故类型 / kind"), max_length=32)
    severity = models.CharField(
        _("事故等级 / severity"), max_length=16, choices=Severity.choices, default=Severity.ORDINARY
    )
    deaths = models.PositiveIntegerField(_("死亡人数 / deaths"), default=0)
    injuries = models.PositiveIntegerField(_("受伤人数 / injuries"), default=0)
    direct_loss = models.DecimalField(
        _("直接经济损失（万元）/ direct loss (10k CNY)"), max_digits=12, decimal_places=2, default=0
    )
    cause_class = models.CharField(
        _("原因分类 / cause"), max_length=16, choices=CauseClass.choices, default=CauseClass.OTHER
    )
    place_type = models.CharField(
        _("场所类型 / place type"),
        max_length=16,
        choices=PlaceType.choices,
        default=PlaceType.OTHER,
        db_default=PlaceType.OTHER,
    )
    investigation_status = models.CharField(
        _("调查状态 / investigation"),
        max_length=8,
        choices=InvestigationStatus.choices,
        default=InvestigationStatus.OPEN,
    )
    description = models.TextField(_("经过 / description"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("事故 / accident")
        verbose_name_plural = _("事故 / accidents")
        ordering = ["-occurred_at"]
        constraints = [
            models.CheckConstraint(
                condition=not_empty("location"), name="accident_location_not_empty"
            )
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind} ({self.get_severity_display()})"


class ResourceType(models.TextChoices):
    RESCUE_TEAM = "rescue_team", _("救援队伍 / rescue team")
    MAINTENANCE_STATION = "maintenance_station", _("维保站点 / maintenance station")
    FIRE_STATION = "fire_station", _("消防救援站 / fire station")
    HOSPITAL = "hospital", _("医院 / hospital")
    HAZMAT_TEAM = "hazmat_team", _("危化品处置队 / hazmat team")
    LIFTING_DEPOT = "lifting_depot", _("起重设备库 / lifting equipment depot")


class EmergencyResource(models.Model):
    """A team, station or depot that can be sent to an incident."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(
        _("版本 / version"), default=1, db_default=1, editable=False
    )

    name = models.CharField(_("名称 / name"), max_length=128)
    resource_type = models.CharField(
        _("类型 / type"), max_length=20, choices=ResourceType.choices, db_index=True
    )
    capability = models.CharField(_("能力 / capability"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人 / contact"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话 / phone"), max_length=32, blank=True)
    duty_hours = models.CharField(_("值守时间 / duty hours"), max_length=32, default="24h")
    location = models.PointField(_("位置 / location"), srid=4326)
    address = models.CharField(_("地址 / address"), max_length=200, blank=True)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, verbose_name=_("所在区划 / region")
    )
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("所属单位 / unit")
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("应急资源 / emergency resource")
        verbose_name_plural = _("应急资源 / emergency resources")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=not_empty("location"), name="resource_location_not_empty"
            )
        ]

    def __str__(self) -> str:
        return self.name
