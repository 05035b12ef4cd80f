"""Incidents, their append-only timeline, and whom each incident asked for help."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Region
from geo.scoping import Scope, ScopedQuerySet
from registry.models import Accident, EmergencyResource, Equipment, Unit


class IncidentState(models.TextChoices):
    REPORTED = "reported", _("接报")
    DISPATCHED = "dispatched", _("已派单")
    RESPONDED = "responded", _("已响应")
    ARRIVED = "arrived", _("已到达")
    RELEASED = "released", _("已解困")
    CLOSED = "closed", _("已结束")
    FALSE_ALARM = "false_alarm", _("误报")


# The 96333 sequence. Nobody may be trapped (a boiler leak, a crane alarm): such an incident closes
# from arrived without a release. A false alarm can be declared until the incident has ended.
TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentState.REPORTED: frozenset({IncidentState.DISPATCHED, IncidentState.FALSE_ALARM}),
    IncidentState.DISPATCHED: frozenset({IncidentState.RESPONDED, IncidentState.FALSE_ALARM}),
    IncidentState.RESPONDED: frozenset({IncidentState.ARRIVED, IncidentState.FALSE_ALARM}),
    IncidentState.ARRIVED: frozenset(
        {IncidentState.RELEASED, IncidentState.CLOSED, IncidentState.FALSE_ALARM}
    ),
    IncidentState.RELEASED: frozenset({IncidentState.CLOSED}),
    IncidentState.CLOSED: frozenset(),
    IncidentState.FALSE_ALARM: frozenset(),
}
ENDED_STATES = frozenset({IncidentState.CLOSED, IncidentState.FALSE_ALARM})
# The time each state stamps. A false alarm ends the incident, so it stamps the closing time.
STATE_TIMESTAMPS: dict[str, str] = {
    IncidentState.REPORTED: "reported_at",
    IncidentState.DISPATCHED: "dispatched_at",
    IncidentState.RESPONDED: "responded_at",
    IncidentState.ARRIVED: "arrived_at",
    IncidentState.RELEASED: "released_at",
    IncidentState.CLOSED: "closed_at",
    IncidentState.FALSE_ALARM: "closed_at",
}


class LocatedBy(models.TextChoices):
    MAP_CLICK = "map_click", _("地图点选")
    COORDINATES = "coordinates", _("坐标")
    CODE = "code", _("设备编码")
    UNIT = "unit", _("单位名称或地址")


class IncidentQuerySet(ScopedQuerySet):
    def open(self) -> IncidentQuerySet:
        return self.exclude(state__in=ENDED_STATES)

    def owned_by(self, user) -> IncidentQuerySet:
        """The incidents of the user's own jurisdiction: the ones the user may act on."""
        return super().visible_to(user)

    def visible_to(self, user) -> IncidentQuerySet:
        """Own jurisdiction's incidents, and those another jurisdiction shares with it now."""
        owned = self.owned_by(user)
        prefix = Scope.of(user).prefix
        if not prefix:  # None sees nothing, '' (national) everything: no grant changes either
            return owned
        shared = IncidentGrant.objects.active().filter(grantee__code__startswith=prefix)
        return self.filter(
            Q(region__code__startswith=prefix) | Q(pk__in=shared.values("incident_id"))
        )


class Incident(models.Model):
    """A reported emergency at a place, often at one registered device, followed until it ends."""

    reported_at = models.DateTimeField(_("接报时间"), db_index=True)
    location = models.PointField(_("位置"), srid=4326)
    source_crs = models.CharField(_("原始坐标系"), max_length=12, default="wgs84")
    located_by = models.CharField(_("定位方式"), max_length=12, choices=LocatedBy.choices)
    query = models.CharField(_("定位输入"), max_length=200, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在区划"))
    equipment = models.ForeignKey(
        Equipment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("涉及设备"),
    )
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("涉及单位"),
    )
    # 96333 elevator fault codes: 11 is trapped passengers.
    fault_code = models.CharField(_("故障代码"), max_length=8, blank=True)
    summary = models.TextField(_("报警内容"), blank=True)
    address = models.CharField(_("地点"), max_length=200, blank=True)
    state = models.CharField(
        _("状态"),
        max_length=12,
        choices=IncidentState.choices,
        default=IncidentState.REPORTED,
    )
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("到达时间"), null=True, blank=True)
    released_at = models.DateTimeField(_("解困时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("接警人"),
    )
    accident = models.OneToOneField(
        Accident,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incident",
        verbose_name=_("转为事故"),
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("应急事件")
        verbose_name_plural = pgettext_lazy("plural", "应急事件")
        ordering = ["-reported_at", "-id"]
        indexes = [models.Index(fields=["region", "state"], name="incident_region_state")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=IncidentState.values), name="incident_state_known"
            ),
            # Ended exactly when it carries a closing time: statistics read closed_at alone.
            models.CheckConstraint(
                condition=Q(state__in=ENDED_STATES, closed_at__isnull=False)
                | (~Q(state__in=ENDED_STATES) & Q(closed_at__isnull=True)),
                name="incident_closed_when_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.reported_at:%Y-%m-%d %H:%M} {self.get_state_display()}"

    @property
    def allowed_states(self) -> list[str]:
        return sorted(TRANSITIONS[self.state])


class IncidentEventKind(models.TextChoices):
    REPORTED = "reported", _("接报")
    STATE_CHANGE = "state_change", _("状态变更")
    NOTE = "note", _("备注")
    DISPATCH = "dispatch", _("派单")
    ACCIDENT = "accident", _("转为事故")


class TimelineQuerySet(ScopedQuerySet):
    scope_lookup = "incident__region__code"

    def update(self, **kwargs):
        raise TypeError("an incident's timeline is append-only")

    def delete(self):
        raise TypeError("an incident's timeline is append-only")


class IncidentEvent(models.Model):
    """One entry of an incident's timeline: its report, a change of state, or a note; append-only."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("事件"),
    )
    kind = models.CharField(_("类型"), max_length=12, choices=IncidentEventKind.choices)
    # When it happened, which a responder may enter after the fact (radioed in, typed later).
    at = models.DateTimeField(_("发生时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )
    from_state = models.CharField(
        _("原状态"), max_length=12, choices=IncidentState.choices, blank=True
    )
    to_state = models.CharField(
        _("新状态"), max_length=12, choices=IncidentState.choices, blank=True
    )
    note = models.TextField(_("备注"), blank=True)
    dispatch = models.ForeignKey(
        "Dispatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("派单"),
    )
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        verbose_name = _("事件时间线")
        verbose_name_plural = pgettext_lazy("plural", "事件时间线")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at", "id"], name="incident_event_timeline")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("an incident's timeline is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("an incident's timeline is append-only")


class DispatchTier(models.TextChoices):
    CONTRACTED = "contracted", _("签约维保单位")
    NEAREST_MAINTENANCE = "nearest_maintenance", _("就近维保单位")
    STANDBY_RESCUE = "standby_rescue", _("县级备勤救援队")
    FIRE_RESCUE = "fire_rescue", _("消防救援")


# The order in which the tiers are asked: each is asked once, the next when it fails.
TIER_ORDER: tuple[str, ...] = tuple(DispatchTier.values)


class DispatchAnswer(models.TextChoices):
    RESPONDED = "responded", _("已响应")
    DECLINED = "declined", _("拒绝")


# An ask is open while none of its four endings is stamped.
PENDING = {
    "responded_at__isnull": True,
    "declined_at__isnull": True,
    "timed_out_at__isnull": True,
    "cancelled_at__isnull": True,
}


class DispatchQuerySet(ScopedQuerySet):
    scope_lookup = "incident__region__code"

    def pending(self) -> DispatchQuerySet:
        return self.filter(**PENDING)

    def due(self, now) -> DispatchQuerySet:
        return self.pending().filter(deadline_at__lte=now).exclude(incident__state__in=ENDED_STATES)


class Dispatch(models.Model):
    """One request for help along the 96333 tiers: whom, when asked, when they answered."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.PROTECT,
        related_name="dispatches",
        verbose_name=_("事件"),
    )
    tier = models.CharField(_("梯次"), max_length=20, choices=DispatchTier.choices)
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispatches",
        verbose_name=_("单位"),
    )
    resource = models.ForeignKey(
        EmergencyResource,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispatches",
        verbose_name=_("应急资源"),
    )
    asked_at = models.DateTimeField(_("派单时间"))
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("派单人"),
    )
    # When the ask times out unanswered and the next tier is asked; none for the backstop.
    deadline_at = models.DateTimeField(_("响应期限"), null=True, blank=True)
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    declined_at = models.DateTimeField(_("拒绝时间"), null=True, blank=True)
    timed_out_at = models.DateTimeField(_("超时时间"), null=True, blank=True)
    # Withdrawn by the desk, or ended with its incident (closed, false alarm): nobody waits on it.
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("撤销人"),
    )
    cancel_reason = models.TextField(_("撤销原因"), blank=True)
    note = models.TextField(_("备注"), blank=True)

    objects = DispatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("派单")
        verbose_name_plural = pgettext_lazy("plural", "派单")
        ordering = ["asked_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit__isnull=False) | Q(resource__isnull=False),
                name="dispatch_names_whom",
            ),
            # An ask ends one way only: answered yes, answered no, left unanswered too long, or
            # cancelled (at least three of the four endings are empty).
            models.CheckConstraint(
                condition=(
                    Q(
                        responded_at__isnull=True,
                        declined_at__isnull=True,
                        timed_out_at__isnull=True,
                    )
                    | Q(
                        responded_at__isnull=True,
                        declined_at__isnull=True,
                        cancelled_at__isnull=True,
                    )
                    | Q(
                        responded_at__isnull=True,
                        timed_out_at__isnull=True,
                        cancelled_at__isnull=True,
                    )
                    | Q(
                        declined_at__isnull=True,
                        timed_out_at__isnull=True,
                        cancelled_at__isnull=True,
                    )
                ),
                name="dispatch_ends_once",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | ~Q(cancel_reason=""),
                name="dispatch_cancel_has_reason",
            ),
        ]
        indexes = [
            # The escalation runner's question: which open asks are past their deadline.
            models.Index(
                fields=["deadline_at"],
                name="dispatch_pending_deadline",
                condition=Q(**PENDING, deadline_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} {self.asked_at:%H:%M}"

    @property
    def status(self) -> str:
        if self.responded_at:
            return "responded"
        if self.declined_at:
            return "declined"
        if self.timed_out_at:
            return "timed_out"
        return "cancelled" if self.cancelled_at else "pending"

    @property
    def party(self) -> Unit | EmergencyResource:
        return self.unit or self.resource


class GrantQuerySet(ScopedQuerySet):
    scope_lookup = "incident__region__code"

    def active(self, now=None) -> GrantQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class IncidentGrant(models.Model):
    """A time-boxed share of one incident with another jurisdiction (跨辖区授权): its users, and
    those above them, may read the incident until the grant expires or is revoked."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="grants", verbose_name=_("事件")
    )
    grantee = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("授权辖区"),
    )
    reason = models.TextField(_("授权事由"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("授权人"),
    )
    granted_at = models.DateTimeField(_("授权时间"))
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("撤销人"),
    )

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("跨辖区授权")
        verbose_name_plural = pgettext_lazy("plural", "跨辖区授权")
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["grantee", "expires_at"], name="grant_grantee_expiry")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("granted_at")), name="grant_expires_after"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} → {self.grantee_id} ({self.expires_at:%Y-%m-%d %H:%M})"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"
