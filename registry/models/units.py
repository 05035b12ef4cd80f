"""Units (organisations) and personnel with their certificates."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import ScopedQuerySet

from .checks import not_empty
from .identifiers import already_registered


class UnitRole(models.TextChoices):
    USE = "use", _("使用单位")
    MANUFACTURE = "manufacture", _("制造单位")
    INSTALLATION = "installation", _("安装改造修理单位")
    MAINTENANCE = "maintenance", _("维护保养单位")
    INSPECTION = "inspection", _("检验检测机构")
    SUPERVISION = "supervision", _("监管部门")
    FILLING = "filling", _("充装单位")
    RESCUE = "rescue", _("救援队伍")


class UnitQuerySet(ScopedQuerySet):
    def with_role(self, role: str) -> UnitQuerySet:
        return self.filter(roles__contains=[role])


class Unit(models.Model):
    """An organisation that uses, makes, installs, maintains, inspects or supervises equipment."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, unique=True, null=True, blank=True
    )
    name = models.CharField(_("单位名称"), max_length=128, db_index=True)
    roles = ArrayField(
        models.CharField(max_length=16, choices=UnitRole.choices), verbose_name=_("角色")
    )
    address = models.CharField(_("单位地址"), max_length=200, blank=True)
    location = models.PointField(_("位置"), srid=4326, null=True, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = pgettext_lazy("plural", "单位")
        ordering = ["name"]
        indexes = [
            GinIndex(fields=["roles"], name="unit_roles_gin"),
            # Part of a name, address or credit code is found through the trigram index over
            # the unit's search text (registry/search.py, migration 0011).
        ]
        constraints = [
            models.CheckConstraint(condition=not_empty("location"), name="unit_location_not_empty")
        ]

    def __str__(self) -> str:
        return self.name


class PersonRole(models.TextChoices):
    OPERATOR = "operator", _("作业人员")
    MAINTENANCE = "maintenance", _("维保人员")
    INSPECTOR = "inspector", _("检验人员")
    SUPERVISOR = "supervisor", _("监察人员")
    MANAGER = "manager", _("安全管理人员")


class Person(models.Model):
    """Someone who operates, maintains, inspects or supervises equipment. The ID number is personal data."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    name = models.CharField(_("姓名"), max_length=64)
    role = models.CharField(_("人员类别"), max_length=16, choices=PersonRole.choices)
    employer = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("工作单位"),
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    # Encrypted at rest; searchable through a keyed hash; shown only masked (registry.personal).
    national_id_encrypted = models.TextField(_("身份证号（加密）"), blank=True, editable=False)
    national_id_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    national_id_masked = models.CharField(_("身份证号"), max_length=18, blank=True, editable=False)
    phone = models.CharField(_("电话"), max_length=32, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "人员")
        verbose_name_plural = _("人员")
        ordering = ["name"]
        constraints = [
            # One person per national ID (by its keyed hash; blank: not given).
            models.UniqueConstraint(
                fields=["national_id_hash"],
                condition=~models.Q(national_id_hash=""),
                name="person_national_id_unique",
                violation_error_message=already_registered("national_id").message,
            )
        ]

    def __str__(self) -> str:
        return self.name


class CertificateQuerySet(ScopedQuerySet):
    scope_lookup = "person__region__code"


class Certificate(models.Model):
    """A qualification certificate (作业人员证 / 检验员证…) with its expiry."""

    # Raised by the database on every UPDATE (registry_bump_version): a form saved over a newer
    # version is refused instead of silently undoing it (optimistic concurrency).
    version = models.PositiveIntegerField(_("版本"), default=1, db_default=1, editable=False)

    person = models.ForeignKey(
        Person,
        on_delete=models.CASCADE,
        related_name="certificates",
        verbose_name=_("持证人"),
    )
    kind = models.CharField(_("证书类别"), max_length=64)
    item_code = models.CharField(_("作业项目代号"), max_length=8, blank=True)
    number = models.CharField(_("证书编号"), max_length=32, db_index=True)
    issued_on = models.DateField(_("发证日期"))
    expires_on = models.DateField(_("有效期至"), db_index=True)
    issuer = models.CharField(_("发证机关"), max_length=128, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = _("证书")
        verbose_name_plural = pgettext_lazy("plural", "证书")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__gte=models.F("issued_on")), name="certificate_dates"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number}"
