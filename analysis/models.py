"""绩效评价 (performance evaluation) kept as data: the schemes' weights, targets and scoring rules,
and the years whose scores were published (a published year keeps the scheme it was scored with).
The indicators themselves are code (analysis/indicators.py): a component names one by its key."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Direction(models.TextChoices):
    HIGHER = "higher", _("越高越好")
    LOWER = "lower", _("越低越好")


class ScoringRule(models.TextChoices):
    # Full marks at the target, none at the floor, a straight line between.
    LINEAR = "linear", _("线性")
    # Full marks if the target is met, none otherwise (the provincial schemes' pass/fail items).
    THRESHOLD = "threshold", _("达标")


class EvaluationScheme(models.Model):
    """The components an owner (the nation, or a province) scores its agencies by, from a year on;
    a new version when the one a published year used is edited."""

    # '' the national scheme; a 2-digit province prefix for a province's own.
    owner = models.CharField(_("制定机关辖区"), max_length=2, blank=True)
    from_year = models.PositiveSmallIntegerField(_("起始年度"))
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("建立时间"), auto_now_add=True)
    changed_at = models.DateTimeField(_("修改时间"), auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("修改人"),
    )

    class Meta:
        verbose_name = _("绩效评价方案")
        verbose_name_plural = pgettext_lazy("plural", "绩效评价方案")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "from_year", "version"], name="evaluation_scheme_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner or 'national'} {self.from_year} v{self.version}"


class SchemeComponent(models.Model):
    """One weighted indicator of a scheme with its target, floor, direction and scoring rule."""

    scheme = models.ForeignKey(
        EvaluationScheme, on_delete=models.CASCADE, related_name="components"
    )
    position = models.PositiveSmallIntegerField(default=0)
    indicator = models.CharField(_("指标"), max_length=40)
    weight = models.DecimalField(_("权重"), max_digits=5, decimal_places=2)
    target = models.DecimalField(_("目标值"), max_digits=12, decimal_places=4)
    floor = models.DecimalField(_("零分值"), max_digits=12, decimal_places=4)
    direction = models.CharField(_("方向"), max_length=8, choices=Direction.choices)
    rule = models.CharField(
        _("计分规则"),
        max_length=12,
        choices=ScoringRule.choices,
        default=ScoringRule.LINEAR,
    )

    class Meta:
        ordering = ["scheme", "position"]
        verbose_name = _("评价项目")
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "indicator"], name="evaluation_component_once"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="evaluation_component_weight"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.indicator} ×{self.weight}"


class EvaluationPublication(models.Model):
    """A year whose scores an owner published: the scheme they were scored with is fixed."""

    owner = models.CharField(_("发布机关辖区"), max_length=2, blank=True)
    year = models.PositiveSmallIntegerField(_("年度"))
    scheme = models.ForeignKey(
        EvaluationScheme, on_delete=models.PROTECT, related_name="publications"
    )
    published_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("绩效评价发布")
        constraints = [
            models.UniqueConstraint(fields=["owner", "year"], name="evaluation_published_once")
        ]

    def __str__(self) -> str:
        return f"{self.owner or 'national'} {self.year}"


# --------------------------------------------------------------------------- precomputed measures
# The desk's measures kept per county (analysis/precomputed.py fills and reads them; migration
# 0003 adds the triggers that mark a county stale when a row behind its figures changes).


class CountyYearMeasure(models.Model):
    """The additive measures of one county (a 6-digit region code) in one year, as of its last
    refresh (CountyMeasureState); a year with every measure 0 has no row."""

    county = models.CharField(max_length=6)
    year = models.PositiveSmallIntegerField()
    registered = models.IntegerField(default=0)
    in_use = models.IntegerField(default=0)
    registrations = models.IntegerField(default=0)
    cancellations = models.IntegerField(default=0)
    due = models.IntegerField(default=0)
    inspected_on_time = models.IntegerField(default=0)
    accidents = models.IntegerField(default=0)
    deaths = models.IntegerField(default=0)
    injuries = models.IntegerField(default=0)
    supervision_required = models.IntegerField(default=0)
    supervised = models.IntegerField(default=0)
    unlicensed = models.IntegerField(default=0)
    unlicensed_acted = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("区县年度统计量")
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="county_year_measure_once")
        ]
        indexes = [
            models.Index(
                fields=["county"], name="county_measure_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.year}"


class CountyDaySnapshot(models.Model):
    """A county's in-use and overdue devices on a day, taken by the refresh (today's state only
    can be counted from the register: a past day's overdue share is read from here)."""

    county = models.CharField(max_length=6)
    day = models.DateField()
    in_use = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)
    # In use that day and of a kind needing a use registration; of those, holding its number.
    use_registration_required = models.IntegerField(default=0)
    use_registered = models.IntegerField(default=0)
    taken_at = models.DateTimeField()
    # Worked out afterwards from the inspection records (a day before the first snapshot), not
    # counted from the register on the day (precomputed.backfill).
    derived = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("区县超期未检日快照")
        constraints = [
            models.UniqueConstraint(fields=["county", "day"], name="county_day_snapshot_once")
        ]
        indexes = [
            models.Index(
                fields=["county", "day"],
                name="county_snapshot_prefix",
                opclasses=["varchar_pattern_ops", "date_ops"],
            )
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.day}"


class CountyMeasureState(models.Model):
    """When a county's measures were last computed, and for which day (`as_of`: the current
    year's figures run to that day)."""

    county = models.CharField(max_length=6, primary_key=True)
    as_of = models.DateField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("区县统计刷新状态")
        indexes = [
            models.Index(
                fields=["county"], name="county_state_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.as_of}"


class StaleCounty(models.Model):
    """A county whose registry rows changed since its measures were computed (written by the
    triggers of migration 0003, taken by the refresh)."""

    county = models.CharField(max_length=6, primary_key=True)
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("待刷新区县")
        indexes = [
            models.Index(
                fields=["county"], name="stale_county_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return self.county


class CountyKindCount(models.Model):
    """Devices of one county in the register by kind and status (the status column), as of the
    county's last refresh: the desk's devices-by-kind table."""

    county = models.CharField(max_length=6)
    kind = models.CharField(max_length=4)
    status = models.CharField(max_length=16)
    devices = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("区县分类设备数")
        constraints = [
            models.UniqueConstraint(
                fields=["county", "kind", "status"], name="county_kind_count_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["county"], name="county_kind_prefix", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.kind} {self.status}"
