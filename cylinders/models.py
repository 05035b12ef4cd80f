"""Gas cylinders (一瓶一码), their inspections, the filling records (a month-partitioned,
append-only table) and the violations the filling rules find. A station's filling licence is the
licence register's (licensing.Licence of kind filling)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.i18n import choice_label
from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Unit

from .rules import Rule


class CylinderKind(models.TextChoices):
    INDUSTRIAL = "industrial", _("工业气瓶")
    LPG = "lpg", _("液化石油气钢瓶")
    CNG = "cng", _("车用压缩天然气瓶")
    MEDICAL = "medical", _("医用气瓶")
    ACETYLENE = "acetylene", _("溶解乙炔气瓶")
    OTHER = "other", _("其他")


class CylinderStatus(models.TextChoices):
    IN_SERVICE = "in_service", _("在用")
    OVERDUE = "overdue", _("超期未检")
    SCRAPPED = "scrapped", _("报废")
    LOST = "lost", _("丢失")


class CylinderQuerySet(ScopedQuerySet):
    def overdue(self, on: dt.date | None = None) -> CylinderQuerySet:
        """In service (not scrapped or lost) and past the periodic inspection's due date."""
        on = on or dt.date.today()
        return self.filter(next_inspection_due__lt=on).exclude(
            status__in=[CylinderStatus.SCRAPPED, CylinderStatus.LOST]
        )


class Cylinder(models.Model):
    """One gas cylinder: its identity tag, the GB/T 7144 stamped markings and its owning station."""

    tag = models.CharField(_("电子标签"), max_length=64, unique=True)
    maker_name = models.CharField(_("制造单位"), max_length=128)
    maker_code = models.CharField(_("制造单位代码"), max_length=16, blank=True)
    serial_number = models.CharField(_("出厂编号"), max_length=32)
    made_on = models.DateField(_("制造日期"))
    kind = models.CharField(_("气瓶类别"), max_length=16, choices=CylinderKind.choices)
    volume_l = models.DecimalField(_("公称容积 (L)"), max_digits=7, decimal_places=1)
    working_pressure_mpa = models.DecimalField(
        _("公称工作压力 (MPa)"), max_digits=6, decimal_places=2
    )
    design_life_years = models.PositiveSmallIntegerField(_("设计使用年限"))
    scrap_on = models.DateField(_("报废日期"))
    last_inspected_on = models.DateField(_("上次检验日期"), null=True, blank=True)
    next_inspection_due = models.DateField(_("下次检验日期"))
    owner = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="cylinders",
        verbose_name=_("产权（充装）单位"),
    )  # fmt: skip
    # The owner's region, copied at write time: scoped reads are one indexed prefix test.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("区划"))
    status = models.CharField(
        _("状态"), max_length=16, choices=CylinderStatus.choices,
        default=CylinderStatus.IN_SERVICE,
    )  # fmt: skip
    registered_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    objects = CylinderQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "气瓶")
        verbose_name_plural = _("气瓶")
        indexes = [
            models.Index(fields=["owner", "next_inspection_due"], name="cylinder_owner_due"),
            models.Index(fields=["region", "next_inspection_due"], name="cylinder_region_due"),
            # A station's overdue count read from the index alone (no heap visit per cylinder).
            models.Index(
                fields=["owner", "next_inspection_due"], name="cylinder_owner_due_active",
                condition=~models.Q(status__in=["scrapped", "lost"]),
            ),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scrap_on__gt=models.F("made_on")),
                name="cylinder_scrap_after_made",
            )
        ]

    def __str__(self) -> str:
        return self.tag

    def kind_label(self) -> str:
        return choice_label(CylinderKind, self.kind)

    def status_label(self) -> str:
        return choice_label(CylinderStatus, self.status)

    def standing(self, on: dt.date) -> str:
        """The status as of that day: the stored one, or overdue once the due date has passed
        (the stored status catches up at the nightly re-check)."""
        if self.status in (CylinderStatus.SCRAPPED, CylinderStatus.LOST):
            return self.status
        due = self.next_inspection_due < on
        return CylinderStatus.OVERDUE if due else CylinderStatus.IN_SERVICE

    def may_be_filled(self, on: dt.date) -> bool:
        """What the public status page answers: none of the rules' overdue and past-scrap
        conditions (rules.CONDITIONS) holds that day, and the cylinder is not scrapped or lost."""
        return (
            self.status in (CylinderStatus.IN_SERVICE, CylinderStatus.OVERDUE)
            and self.next_inspection_due >= on
            and self.scrap_on > on
        )


class CylinderInspection(models.Model):
    """A periodic inspection of a cylinder (定期检验): it moves the next due date."""

    cylinder = models.ForeignKey(Cylinder, on_delete=models.PROTECT, related_name="inspections")
    inspected_on = models.DateField(_("检验日期"))
    passed = models.BooleanField(_("合格"))
    body_name = models.CharField(_("检验机构"), max_length=128)
    next_due = models.DateField(_("下次检验日期"), null=True, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("气瓶检验")
        ordering = ["inspected_on", "pk"]

    def __str__(self) -> str:
        return f"{self.cylinder_id} {self.inspected_on}"


class FillingRecord(models.Model):
    """One filling (充装记录). The table is created by migration 0002's SQL, partitioned by month
    on `filled_at`, append-only (a trigger refuses UPDATE and DELETE); its real primary key is
    (id, filled_at), as partitioning demands: `id` alone is unique in practice, so Django may use it."""

    id = models.BigIntegerField(primary_key=True)
    station = models.ForeignKey(Unit, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")  # fmt: skip
    cylinder = models.ForeignKey(
        Cylinder,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="fillings",
    )
    tag = models.CharField(_("电子标签"), max_length=64)
    filled_at = models.DateTimeField(_("充装时间"))
    medium = models.CharField(_("充装介质"), max_length=32)
    quantity_kg = models.DecimalField(_("充装量 (kg)"), max_digits=8, decimal_places=2)
    check_passed = models.BooleanField(_("充装前检查合格"))
    operator_certificate = models.CharField(_("作业人员证号"), max_length=32)
    region = models.ForeignKey(Region, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")  # fmt: skip
    # The rules it broke as known when it was received (cylinders.rules); later re-checks add
    # Violation rows, never change this.
    violations = models.JSONField(default=list)
    received_at = models.DateTimeField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        # Managed, so that test flushes empty it too; its table is migration 0002's SQL (the
        # state is declared there apart from the database operations).
        db_table = "cylinders_filling"
        verbose_name = _("充装记录")
        ordering = ["filled_at", "id"]

    def __str__(self) -> str:
        return f"{self.tag} {self.filled_at:%Y-%m-%d %H:%M}"


class Violation(models.Model):
    """A filling that broke a filling rule: a finding on the station for its county's supervisor."""

    filling_id = models.BigIntegerField()
    filled_at = models.DateTimeField(_("充装时间"))
    station = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("充装单位"))  # fmt: skip
    cylinder = models.ForeignKey(Cylinder, on_delete=models.PROTECT, null=True, related_name="+")
    tag = models.CharField(_("电子标签"), max_length=64)
    rule = models.CharField(_("违反规则"), max_length=24, choices=Rule.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT)
    found_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    found_by = models.CharField(max_length=8)  # "ingest" or "recheck"

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("充装违规")
        ordering = ["-filled_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["filling_id", "rule"], name="violation_once_per_rule")
        ]
        indexes = [models.Index(fields=["region", "-filled_at"], name="violation_region_time"),
                   models.Index(fields=["station", "-filled_at"], name="violation_station_time")]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.tag} {self.rule}"

    def rule_label(self) -> str:
        return choice_label(Rule, self.rule)


class StationDay(models.Model):
    """A station's kept figures for one local calendar day: fillings recorded and violations found
    (by the filling's day). Written in the same transaction as the fillings or violations they count
    (services.store_fillings, services.recheck_fillings), so the station page and the map layer read
    a few rows instead of counting the partitioned table."""

    station = models.ForeignKey(Unit, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")  # fmt: skip
    day = models.DateField(_("日期"))
    fillings = models.IntegerField(_("充装"), default=0)
    violations = models.IntegerField(_("违规"), default=0)
    region = models.ForeignKey(Region, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")  # fmt: skip

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("充装站日统计")
        constraints = [
            models.UniqueConstraint(fields=["station", "day"], name="stationday_once"),
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.day}"


class StationTokenQuerySet(ScopedQuerySet):
    scope_lookup = "station__region__code"  # a key belongs to its station's region

    def usable(self) -> StationTokenQuerySet:
        """Neither revoked nor expired: the keys the filling endpoint takes."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class StationToken(models.Model):
    """A filling station's machine credential for posting fillings: only the SHA-256 digest of the
    key is stored (accounts.tokens.digest), shown once at issue; one usable token per station."""

    station = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("充装单位"))  # fmt: skip
    digest = models.CharField(_("摘要"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = StationTokenQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "充装站密钥")
        verbose_name_plural = pgettext_lazy("plural", "充装站密钥")

    def __str__(self) -> str:
        return f"station {self.station_id} token"

    def state(self) -> str:
        """有效, 已吊销 or 已过期, as the key page and the admin show it."""
        if self.revoked_at is not None:
            return _("已吊销")
        return _("已过期") if self.expires_at <= timezone.now() else _("有效")
