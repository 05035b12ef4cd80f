"""Admin for the licence register: scoped like the registry's; a licence is entered (a paper
licence, a station's filling licence) through licensing.services.issue_licence, and changed only
on its own page (suspend, revoke, restore: set_licence_status)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from geo.admin import RegionListFilter
from registry.admin.common import NoDeleteMixin, RegistryAdmin, ServiceForm

from . import rules, services
from .models import Licence


class LicenceAddForm(ServiceForm):
    scope_items = forms.MultipleChoiceField(
        label=_("许可范围"),
        choices=[(g.key, f"{g.kind} {g.code} {g.grade} {g.label_zh}") for g in rules.grades()],
    )

    def commit(self):
        licence = services.issue_licence(
            self.cleaned_data["unit"],
            kind=self.value("kind"),
            scope=rules.parse_scope(self.cleaned_data["scope_items"]),
            number=self.value("number"),
            authority=self.value("authority"),
            issued_on=self.cleaned_data["issued_on"],
            expires_on=self.cleaned_data["expires_on"],
            acting_user=self.acting_user,
        )
        return licence, []


@admin.register(Licence)
class LicenceAdmin(NoDeleteMixin, RegistryAdmin):
    """Licences of the jurisdiction; added through issue_licence, read only once there."""

    add_form = LicenceAddForm
    list_display = ("number", "unit", "kind", "issued_on", "expires_on", "status", "region")
    list_filter = (RegionListFilter, "kind", "status")
    list_select_related = ("unit", "region")
    search_fields = ("=number", "unit__name", "=unit__credit_code")
    autocomplete_fields = ("unit",)
    fields = (
        ("number", "kind"),
        "unit",
        "authority",
        ("issued_on", "expires_on"),
        ("status", "status_since"),
        "region",
    )
    add_fieldsets = (
        (None, {"fields": (
            ("number", "kind"), "unit", "authority", ("issued_on", "expires_on"), "scope_items",
        )}),
    )  # fmt: skip

    def get_queryset(self, request):
        # An account with no right here (an enterprise's) is refused before any lookup, as on the
        # other admins: the register's own-unit reading would otherwise answer 404 first.
        if not self.has_view_permission(request):
            raise PermissionDenied
        return super().get_queryset(request)

    def has_change_permission(self, request, obj=None):
        return False
