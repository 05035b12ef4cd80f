"""Admin for agencies, users and the audit trail, and the jurisdiction scoping every admin uses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.models import Group
from django.db import models
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from geo.admin import OfflineGISAdmin, RegionListFilter
from geo.models import Level, code_prefix
from geo.scoping import prefix_of

from . import audit, tokens
from .models import Agency, AuditEntry, User


def scoped(queryset: models.QuerySet, user: Any) -> models.QuerySet:
    """The rows of `queryset` inside the user's jurisdiction; reference data (catalogue) is national."""
    return queryset.visible_to(user) if hasattr(queryset, "visible_to") else queryset


def is_national(user: Any) -> bool:
    return prefix_of(user) == ""


class ScopedModelForm(forms.ModelForm):
    """The form of a scoped admin. Foreign-key choices are the user's jurisdiction, plus the
    record's current value: a device's maintenance company may sit in the next county, and it
    is on the page already; without it the record could not be saved at all."""

    acting_user = None  # set per request by ScopedAdminMixin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField) or isinstance(
                field, forms.ModelMultipleChoiceField
            ):
                continue
            current = getattr(self.instance, f"{name}_id", None)
            if current is not None:
                model = field.queryset.model
                field.queryset = field.queryset | model._default_manager.filter(pk=current)


class ScopedAdminMixin:
    """An admin that shows only the requester's jurisdiction: rows, foreign-key choices and
    autocompletes. Another jurisdiction's row answers 404 like a missing one (DESIGN.md §2).

    Forms get the requester as `acting_user`, for checks and services that need it.
    """

    form = ScopedModelForm

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("记录不存在"))
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            related = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = scoped(related, request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.acting_user = request.user  # a new class per call: safe to set
        return form


class AuditedAdminMixin:
    """Admin writes that no registry service performs still leave an audit row (DESIGN.md §2)."""

    audit_exclude: tuple[str, ...] = ()

    def audit_region_code(self, obj) -> str:
        return getattr(obj, "region_id", None) or ""

    def _snapshot(self, obj):
        return audit.snapshot(obj, exclude=self.audit_exclude)

    def _record(self, request, verb: str, obj, *, before=None, after=None) -> None:
        audit.record(
            request.user,
            f"{obj._meta.model_name}.{verb}",
            obj,
            before=before,
            after=after if after is not None else self._snapshot(obj),
            region_code=self.audit_region_code(obj),
        )

    def save_model(self, request, obj, form, change):
        before = self._snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        self._record(
            request, "changed_in_admin" if change else "added_in_admin", obj, before=before
        )

    def delete_model(self, request, obj):
        self._record(request, "deleted_in_admin", obj, before=self._snapshot(obj), after={})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, "deleted_in_admin", obj, before=self._snapshot(obj), after={})
        super().delete_queryset(request, queryset)


class ReadOnlyAdminMixin:
    """History and reference records nobody edits in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgencyForm(ScopedModelForm):
    def clean(self):
        cleaned = super().clean()
        level, region = cleaned.get("level"), cleaned.get("region")
        if level is None:
            return cleaned
        if level == Level.NATIONAL:
            if not is_national(self.acting_user):
                self.add_error("level", _("只有国家级用户可以设立国家级机构"))
            if region is not None:
                self.add_error("region", _("国家级机构不设辖区"))
        elif region is None:
            self.add_error("region", _("需要辖区"))
        elif region.level != level:
            self.add_error("region", _("辖区级别与机构级别不符"))
        elif not code_prefix(region.code, level).startswith(prefix_of(self.acting_user) or "-"):
            # The agency's users would read beyond the creator's own jurisdiction.
            self.add_error("level", _("超出您的辖区"))
        return cleaned


@admin.register(Agency)
class AgencyAdmin(ScopedAdminMixin, AuditedAdminMixin, OfflineGISAdmin):
    # OfflineGISAdmin: the office is picked on the offline map, never a CDN's.
    form = AgencyForm
    list_display = ("name", "level", "region")
    list_filter = ("level", RegionListFilter)
    list_select_related = ("region",)
    search_fields = ("name", "^region__code", "region__name")
    autocomplete_fields = ("region",)


class UserChangeForm(ScopedModelForm, auth_forms.UserChangeForm):
    pass


@admin.register(User)
class UserAdmin(ScopedAdminMixin, AuditedAdminMixin, auth_admin.UserAdmin):
    form = UserChangeForm
    audit_exclude = ("password",)
    jurisdiction_fieldset = (
        _("辖区与角色"),
        {"fields": ("agency", "role")},
    )
    fieldsets = (*auth_admin.UserAdmin.fieldsets, jurisdiction_fieldset)
    add_fieldsets = (*auth_admin.UserAdmin.add_fieldsets, jurisdiction_fieldset)
    list_display = (
        "username",
        "first_name",
        "last_name",
        "agency",
        "role",
        "is_staff",
        "is_active",
    )
    list_filter = (
        RegionListFilter,
        "role",
        "is_staff",
        "is_superuser",
        "is_active",
    )
    list_select_related = ("agency",)
    autocomplete_fields = ("agency",)
    actions = ["unlock_sign_in", "reset_second_factor", "revoke_api_tokens"]

    def audit_region_code(self, obj) -> str:
        return obj.agency.region_id or "" if obj.agency_id else ""

    # The actions act on the scoped list: another jurisdiction's user is never among them.

    @admin.action(description=_("解除登录锁定"), permissions=["change"])
    def unlock_sign_in(self, request, queryset):
        from axes.utils import reset

        for user in queryset:
            if reset(username=user.get_username()):
                self._record(request, "sign_in_unlocked", user, after={"user": user.pk})

    @admin.action(description=_("重置双因素认证"), permissions=["change"])
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            if TOTPDevice.objects.filter(user=user).delete()[0]:
                self._record(request, "otp_reset", user, after={"user": user.pk})

    @admin.action(description=_("吊销 API 令牌"), permissions=["change"])
    def revoke_api_tokens(self, request, queryset):
        for user in queryset:
            tokens.revoke_api_tokens(user, acting_user=request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Otherwise anyone allowed to edit users could make themselves superuser.
            fields += ["is_superuser", "groups", "user_permissions"]
        return fields


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail, by the region of the record written; read only."""

    list_display = ("at", "action", "model", "object_pk", "region_code", "actor", "jurisdiction")
    list_filter = (RegionListFilter, "at", "model")
    list_select_related = ("actor",)
    show_facets = admin.ShowFacets.NEVER
    search_fields = ("=object_pk", "^action", "=actor__username")
    show_full_result_count = False
    fields = (
        "at",
        "actor",
        "jurisdiction",
        "action",
        "model",
        "object_pk",
        "region_code",
        "before",
        "after",
    )


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(auth_admin.GroupAdmin):
    """Groups grant permissions in every jurisdiction: only superusers change them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# django-otp's device admin lists every jurisdiction's devices (and their keys): a user's second
# factor is reset by the user admin's action instead. API tokens have no admin either: their
# owners manage them (accounts/token/), the user admin revokes them, deactivating a user stops them.
admin.site.unregister(TOTPDevice)
