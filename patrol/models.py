"""Patrol plans, the ranked candidates they were built from, the teams, their day routes, and
the stops with what was found at each.

A stop hangs off its PatrolCandidate, so it keeps the score and reasons that put its device on the
route; a route belongs to one team and one day.
"""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import IsValid
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts import policy
from accounts.models import Role
from geo.models import Region
from geo.scoping import ScopedQuerySet
from registry.models import Equipment


def may_plan(user: Any) -> bool:
    """Supervisors plan patrols (accounts/policy.py); inspectors only see the plans whose teams
    they are in."""
    return policy.may(user, policy.Action.PLAN)


def is_inspector(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.jurisdiction_prefix is not None
        and user.role == Role.INSPECTOR
    )


class PlanQuerySet(ScopedQuerySet):
    plan_lookup = "pk"  # the path from these rows to their plan

    def visible_to(self, user: Any) -> Self:
        if may_plan(user):
            return super().visible_to(user)
        if is_inspector(user):
            # Plans and tracks are the team's personal information: an inspector sees only the
            # plans of the teams they are in, inside their jurisdiction.
            mine = PatrolPlan.objects.filter(teams__members=user).values("pk")
            return super().visible_to(user).filter(**{f"{self.plan_lookup}__in": mine})
        return self.none()


class CandidateQuerySet(PlanQuerySet):
    scope_lookup = "plan__region__code"
    plan_lookup = "plan"


class StopQuerySet(PlanQuerySet):
    scope_lookup = "route__plan__region__code"
    plan_lookup = "route__plan"


class PatrolPlan(models.Model):
    """Which devices of an area a supervisor means to visit in a period, and why."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="patrol_plans",
        verbose_name=_("制定人"),
    )
    # The jurisdiction the plan belongs to, for scoping: the chosen sub-region, else the owner's
    # own (null only for a national owner).
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("区划")
    )
    area = models.MultiPolygonField(_("巡查范围"), srid=4326)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    criteria = models.JSONField(_("筛选条件"), default=dict, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "巡查计划")
        verbose_name_plural = _("巡查计划")
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
        verbose_name=_("巡查计划"),
    )
    equipment = models.ForeignKey(
        Equipment,
        on_delete=models.PROTECT,
        related_name="patrol_candidacies",
        verbose_name=_("设备"),
    )
    rank = models.PositiveIntegerField(_("排名"))
    score = models.PositiveIntegerField(_("风险分"))
    reasons = models.JSONField(_("评分依据"), default=list)
    pinned = models.BooleanField(_("必查"), default=False)
    dropped = models.BooleanField(_("剔除"), default=False)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        verbose_name = _("候选设备")
        verbose_name_plural = pgettext_lazy("plural", "候选设备")
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


class PatrolTeam(models.Model):
    """A team of a plan: where its working day starts and ends, how long it is, who is in it."""

    plan = models.ForeignKey(
        PatrolPlan,
        on_delete=models.CASCADE,
        related_name="teams",
        verbose_name=_("巡查计划"),
    )
    number = models.PositiveSmallIntegerField(_("组号"))
    name = models.CharField(_("名称"), max_length=60)
    start = models.PointField(_("出发点"), srid=4326)
    end = models.PointField(_("返回点"), srid=4326)
    working_minutes = models.PositiveIntegerField(_("每日工作分钟"))
    # The lunch break, on top of the working minutes (0: none, as plans made before issue 19).
    break_minutes = models.PositiveSmallIntegerField(_("午休分钟"), default=0)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="patrol_teams",
        verbose_name=_("检查人员"),
    )

    objects = CandidateQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡查小组")
        verbose_name_plural = pgettext_lazy("plural", "巡查小组")
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="patrol_team_number_unique"),
            models.CheckConstraint(
                condition=Q(working_minutes__gt=0, working_minutes__lte=24 * 60),
                name="patrol_team_day_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}/{self.name}"


class PatrolRoute(models.Model):
    """One team's working day: its stops in order, and the minutes it takes."""

    plan = models.ForeignKey(
        PatrolPlan,
        on_delete=models.CASCADE,
        related_name="routes",
        verbose_name=_("巡查计划"),
    )
    team = models.ForeignKey(
        PatrolTeam, on_delete=models.CASCADE, related_name="routes", verbose_name=_("小组")
    )
    day = models.DateField(_("日期"))
    travel_minutes = models.FloatField(_("路途分钟"), default=0)
    service_minutes = models.FloatField(_("现场分钟"), default=0)
    total_minutes = models.FloatField(_("总分钟"), default=0)
    # When the break starts, in minutes from the day's start; none when the day has no break.
    break_at_minutes = models.FloatField(_("午休开始（分钟）"), null=True, blank=True)
    # Start → stops → end as straight lines: what the map draws and GPX carries.
    path = models.LineStringField(_("路线"), srid=4326, null=True, blank=True)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        verbose_name = _("日路线")
        verbose_name_plural = pgettext_lazy("plural", "日路线")
        ordering = ["plan", "day", "team__number"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="patrol_route_team_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.day}"


class PatrolStop(models.Model):
    """A device on a route, its times, and what the visit found (监督检查结果)."""

    route = models.ForeignKey(
        PatrolRoute, on_delete=models.CASCADE, related_name="stops", verbose_name=_("路线")
    )
    candidate = models.OneToOneField(
        PatrolCandidate,
        on_delete=models.CASCADE,
        related_name="stop",
        verbose_name=_("候选设备"),
    )
    sequence = models.PositiveIntegerField(_("顺序"))
    arrival_minutes = models.FloatField(_("到达（分钟）"))
    departure_minutes = models.FloatField(_("离开（分钟）"))
    # The result, once recorded.
    visited = models.BooleanField(_("已检查"), null=True, blank=True)
    findings = models.TextField(_("发现问题"), blank=True)
    order_issued = models.BooleanField(_("下达监察指令"), default=False)
    order_number = models.CharField(_("指令书编号"), max_length=40, blank=True)
    order_rectified_on = models.DateField(_("整改完成"), null=True, blank=True)
    sealed = models.BooleanField(_("查封"), default=False)
    recorded_at = models.DateTimeField(_("记录时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
    )

    objects = StopQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡查点")
        verbose_name_plural = pgettext_lazy("plural", "巡查点")
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "sequence"],
                name="patrol_stop_sequence_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
            # A visit not made finds nothing and orders nothing.
            models.CheckConstraint(
                condition=~Q(visited=False) | Q(order_issued=False, sealed=False),
                name="patrol_stop_unvisited_finds_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.sequence}"
