"""Patrol plans and the ranked candidates they were built from.

Teams, day routes and stops come later (issue 5): a Route will hang off the plan and a Stop off a
PatrolCandidate, so a stop keeps the score and reasons that put its device on the route.
"""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import IsValid
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Equipment

PLANNER_ROLES = frozenset({Role.SUPERVISOR, Role.SYSTEM_ADMIN})


def may_plan(user: Any) -> bool:
    """Supervisors plan patrols; inspectors will see the plans they are assigned to once teams
    exist, and until then see none, like every other role."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.jurisdiction_prefix is not None
        and (user.is_superuser or user.role in PLANNER_ROLES)
    )


class PlanQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> Self:
        return super().visible_to(user) if may_plan(user) else self.none()


class CandidateQuerySet(PlanQuerySet):
    scope_lookup = "plan__region__code"


class PatrolPlan(models.Model):
    """Which devices of an area a supervisor means to visit in a period, and why."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="patrol_plans",
        verbose_name=_("制定人 / owner"),
    )
    # The jurisdiction the plan belongs to, for scoping: the chosen sub-region, else the owner's
    # own (null only for a national owner).
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("区划 / region")
    )
    area = models.MultiPolygonField(_("巡查范围 / area"), srid=4326)
    starts_on = models.DateField(_("开始日期 / from"))
    ends_on = models.DateField(_("结束日期 / to"))
    criteria = models.JSONField(_("筛选条件 / criteria"), default=dict, blank=True)
    created_at = models.DateTimeField(_("创建时间 / created"), auto_now_add=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡查计划 / patrol plan")
        verbose_name_plural = _("巡查计划 / patrol plans")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="patrol_plan_period_ordered"
            ),
            models.CheckConstraint(condition=Q(IsValid("area")), name="patrol_plan_area_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.starts_on}–{self.ends_on}"


class PatrolCandidate(models.Model):
    """A device proposed for a plan, with its risk score and the parts that made it."""

    plan = models.ForeignKey(
        PatrolPlan,
        on_delete=models.CASCADE,
        related_name="candidates",
        verbose_name=_("巡查计划 / plan"),
    )
    equipment = models.ForeignKey(
        Equipment,
        on_delete=models.PROTECT,
        related_name="patrol_candidacies",
        verbose_name=_("设备 / equipment"),
    )
    rank = models.PositiveIntegerField(_("排名 / rank"))
    score = models.PositiveIntegerField(_("风险分 / risk score"))
    reasons = models.JSONField(_("评分依据 / reasons"), default=list)
    pinned = models.BooleanField(_("必查 / pinned"), default=False)
    dropped = models.BooleanField(_("剔除 / dropped"), default=False)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        verbose_name = _("候选设备 / patrol candidate")
        verbose_name_plural = _("候选设备 / patrol candidates")
        ordering = ["plan", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "equipment"], name="patrol_candidate_once"),
            models.UniqueConstraint(fields=["plan", "rank"], name="patrol_candidate_rank_unique"),
            models.CheckConstraint(
                condition=~(Q(pinned=True) & Q(dropped=True)),
                name="patrol_candidate_pinned_or_dropped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.rank} {self.equipment_id} ({self.score})"
