"""Who uses SEGIS: agencies with a jurisdiction, users with a role, and the audit trail of their writes."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.gis.db import models
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from geo.models import Level, Region, code_prefix
from geo.scoping import ScopedQuerySet


class AuditQuerySet(ScopedQuerySet):
    # The audited object's region, kept as a code: the trail outlives the objects it describes.
    scope_lookup = "region_code"


class UserQuerySet(ScopedQuerySet):
    scope_lookup = "agency__region__code"


class ScopedUserManager(UserManager.from_queryset(UserQuerySet)):
    """Django's user manager (create_user…) with the scoped reads."""


class Agency(models.Model):
    """A supervision agency (or other organisation using SEGIS) and the jurisdiction it covers."""

    name = models.CharField(_("名称"), max_length=128)
    level = models.CharField(_("级别"), max_length=8, choices=Level.choices)
    # Null only for the national level, which sees every region.
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name=_("辖区"),
    )

    # Where its people leave from (patrol routes start here); none until it is entered.
    office = models.PointField(_("办公地点"), srid=4326, null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = pgettext_lazy("plural", "机构")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level=Level.NATIONAL, region__isnull=True)
                | (~models.Q(level=Level.NATIONAL) & models.Q(region__isnull=False)),
                name="agency_region_matches_level",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def code_prefix(self) -> str:
        if self.region_id is None:
            return ""
        return code_prefix(self.region_id, self.level)


class Role(models.TextChoices):
    SYSTEM_ADMIN = "admin", _("系统管理员")
    SUPERVISOR = "supervisor", _("监察人员")
    INSPECTOR = "inspector", _("检验人员")
    RESPONDER = "responder", _("应急人员")
    ANALYST = "analyst", _("分析人员")
    ENTERPRISE = "enterprise", _("企业用户")


# Roles that may read personal data (contacts, ID numbers) of the people in their jurisdiction.
PERSONAL_DATA_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SUPERVISOR, Role.RESPONDER})


class User(AbstractUser):
    """A person who signs in; what they may read is fixed by their agency's jurisdiction."""

    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("机构"),
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.SUPERVISOR)

    # The password policy's clock (SEGIS_PASSWORD_MAX_AGE): set whenever the password is.
    password_changed_at = models.DateTimeField(_("密码修改时间"), default=timezone.now)

    objects = ScopedUserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = pgettext_lazy("plural", "用户")

    @property
    def jurisdiction_prefix(self) -> str | None:
        """The division-code prefix this user may read: '' for national, None for no access at all."""
        if self.agency is not None:
            return self.agency.code_prefix
        # A superuser without an agency is the installation's operator: national.
        return "" if self.is_superuser else None

    @property
    def may_read_personal_data(self) -> bool:
        return self.is_superuser or self.role in PERSONAL_DATA_ROLES

    @property
    def needs_second_factor(self) -> bool:
        """Administrators and national or provincial accounts sign in with TOTP (等保 2.0)."""
        if self.is_superuser or self.role == Role.SYSTEM_ADMIN:
            return True
        return self.agency is not None and self.agency.level in (Level.NATIONAL, Level.PROVINCE)

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()


class AuditEntry(models.Model):
    """One write: who did what to which record, from which jurisdiction, with the record before and after."""

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, verbose_name=_("操作人"))
    jurisdiction = models.CharField(_("操作人辖区"), max_length=6, blank=True)
    action = models.CharField(_("操作"), max_length=64, db_index=True)
    model = models.CharField(_("对象类型"), max_length=64)
    object_pk = models.CharField(_("对象"), max_length=64, db_index=True)
    region_code = models.CharField(_("对象所在区划"), max_length=6, blank=True, db_index=True)
    before = models.JSONField(_("修改前"), null=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("修改后"), null=True, encoder=DjangoJSONEncoder)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = pgettext_lazy("plural", "审计记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.model}#{self.object_pk}"


class PasswordHistory(models.Model):
    """A password a user had (its hash): the policy refuses the last few again."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(_("密码摘要"), max_length=128)
    set_at = models.DateTimeField(_("设置时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("历史密码")
        verbose_name_plural = pgettext_lazy("plural", "历史密码")
        ordering = ["-set_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.set_at:%Y-%m-%d}"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, *, at: datetime | None = None) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=at or timezone.now())


class ApiToken(models.Model):
    """An API token for a desktop GIS client: only the SHA-256 digest of its key is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(_("摘要"), max_length=64, unique=True)
    created = models.DateTimeField(_("生成时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = pgettext_lazy("plural", "API 令牌")
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created:%Y-%m-%d}"
