"""The 2014 special-equipment catalogue and the inspection-interval rules keyed on it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Variety(models.Model):
    """A kind (X000), class (XX00) or variety (XXX0) of the 2014 catalogue, or a retired legacy code."""

    code = models.CharField(_("代码"), max_length=4, primary_key=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级"),
    )
    level = models.CharField(_("层级"), max_length=8)
    name_zh = models.CharField(_("中文名称"), max_length=64)
    name_en = models.CharField(_("英文名称"), max_length=128)
    registrable = models.BooleanField(_("需使用登记"), default=True)
    geometry = models.CharField(_("几何类型"), max_length=8, default="point")
    retired = models.BooleanField(_("已废止"), default=False)
    replaced_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaces",
        verbose_name=_("替代代码"),
    )

    class Meta:
        verbose_name = _("设备品种")
        verbose_name_plural = _("特种设备目录")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def kind_code(self) -> str:
        return self.code[0] + "000"


class InspectionRule(models.Model):
    """How long until the next inspection, for equipment whose variety starts with `variety_prefix`.

    The most specific rule wins: longest prefix, then one with a matching condition over a general one.
    Values marked unverified in `source` come from secondary sources (DESIGN.md §3).
    """

    variety_prefix = models.CharField(_("品种代码前缀"), max_length=4)
    # A parameter of the equipment that must equal a value, e.g. {"molten_metal": true}; {} matches all.
    condition = models.JSONField(_("条件"), default=dict, blank=True)
    first = models.BooleanField(_("首次检验"), default=False)
    interval_months = models.PositiveSmallIntegerField(_("检验周期（月）"))
    source = models.CharField(_("依据"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("检验周期规则")
        verbose_name_plural = pgettext_lazy("plural", "检验周期规则")
        ordering = ["variety_prefix", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["variety_prefix", "condition", "first"], name="inspection_rule_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variety_prefix}* {self.condition or ''} → {self.interval_months} months"
