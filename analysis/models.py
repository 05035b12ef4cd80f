"""绩效评价 (performance evaluation) kept as data: the schemes' weights, targets and scoring rules,
and the years whose scores were published (a published year keeps the scheme it was scored with).
The indicators themselves are code (analysis/indicators.py): a component names one by its key."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
        verbose_name_plural = _("绩效评价方案")
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
