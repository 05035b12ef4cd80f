"""Admin for reference data: the equipment catalogue and the inspection-interval rules."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import AuditedAdminMixin, ReadOnlyAdminMixin, is_national

from ..models import InspectionRule, Variety


class NationalReferenceMixin:
    """Rules that hold for the whole country (inspection intervals): national users change them."""

    def has_add_permission(self, request):
        return is_national(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_national(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_national(request.user) and super().has_delete_permission(request, obj)


@admin.register(Variety)
class VarietyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: registry.catalogue reads the catalogue from data/catalogue.csv, so an edit
    here would disagree with what services accept."""

    list_display = ("code", "name_zh", "name_en", "level", "registrable", "retired", "replaced_by")
    list_filter = ("level", "registrable", "retired", "geometry")
    list_select_related = ("replaced_by",)
    search_fields = ("^code", "name_zh", "name_en")


@admin.register(InspectionRule)
class InspectionRuleAdmin(NationalReferenceMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("variety_prefix", "condition", "first", "interval_months", "source")
    list_filter = ("first", "interval_months")
    search_fields = ("^variety_prefix", "source")
