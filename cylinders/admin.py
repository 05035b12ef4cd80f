"""Admin for the cylinder tables: scoped like the registry's, writes through the cylinder services
(which check the role and the jurisdiction), fillings and violations read only.

The operator's certificate number on a filling is not personal data here: it is the same kind of
number as registry.Certificate.number (a public, verifiable certificate), which registry.personal
does not list. The admins still go through the registry's personal-data mixin, so a field listed
there later is masked for roles without personal data on these pages too."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from geo.admin import RegionListFilter
from registry.admin.common import LargeListMixin, NoDeleteMixin, RegistryAdmin, ServiceForm

from . import services
from .models import Cylinder, FillingRecord, StationToken, Violation


class ReadOnlyMixin:
    """Records written only by their own paths (the ingest, the re-check): append-only here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CylinderAddForm(ServiceForm):
    error_fields = {"station": "owner"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Empty: the service sets it from the type's interval after the last inspection.
        self.fields["next_inspection_due"].required = False

    def commit(self):
        cylinder = services.register_cylinder(
            acting_user=self.acting_user,
            owner=self.cleaned_data["owner"],
            tag=self.value("tag"),
            maker_name=self.value("maker_name"),
            maker_code=self.value("maker_code"),
            serial_number=self.value("serial_number"),
            made_on=self.cleaned_data["made_on"],
            kind=self.value("kind"),
            volume_l=self.cleaned_data["volume_l"],
            working_pressure_mpa=self.cleaned_data["working_pressure_mpa"],
            design_life_years=self.cleaned_data["design_life_years"],
            last_inspected_on=self.value("last_inspected_on", None),
            next_inspection_due=self.value("next_inspection_due", None),
        )
        return cylinder, []


@admin.register(Cylinder)
class CylinderAdmin(NoDeleteMixin, LargeListMixin, RegistryAdmin):
    """Registered through register_cylinder; changed by the import (before/after audited) and the
    inspection service, not by hand here."""

    add_form = CylinderAddForm
    list_display = ("tag", "kind", "owner", "status", "next_inspection_due", "scrap_on", "region")
    list_filter = (RegionListFilter, "kind", "status")
    list_select_related = ("owner", "region")
    search_fields = ("=tag", "=serial_number")
    autocomplete_fields = ("owner",)
    fields = (
        ("tag", "kind", "status"),
        ("maker_name", "maker_code", "serial_number"),
        ("made_on", "design_life_years", "scrap_on"),
        ("volume_l", "working_pressure_mpa"),
        ("last_inspected_on", "next_inspection_due"),
        "owner",
        "region",
    )
    add_fieldsets = (
        (None, {"fields": (
            ("tag", "kind"), ("maker_name", "maker_code", "serial_number"),
            ("made_on", "design_life_years"), ("volume_l", "working_pressure_mpa"),
            ("last_inspected_on", "next_inspection_due"), "owner",
        )}),
    )  # fmt: skip

    def has_change_permission(self, request, obj=None):
        return False


@admin.display(description=_("充装单位"), ordering="station__name")
def filling_station(record: FillingRecord):
    return record.station  # the model's key has no label of its own (its migration is frozen)


@admin.register(FillingRecord)
class FillingRecordAdmin(ReadOnlyMixin, LargeListMixin, RegistryAdmin):
    """Append-only (the table refuses UPDATE and DELETE): read here, never changed."""

    list_display = ("filled_at", "tag", filling_station, "medium", "quantity_kg", "check_passed",
                    "operator_certificate", "violations", "region")  # fmt: skip
    list_filter = (RegionListFilter, "check_passed")
    list_select_related = ("station", "region")
    search_fields = ("=tag",)  # the (tag, filled_at) index: exact tags only
    ordering = ("-filled_at", "-id")


@admin.register(Violation)
class ViolationAdmin(ReadOnlyMixin, LargeListMixin, RegistryAdmin):
    """Findings of the ingest and the re-check; never removed."""

    list_display = ("filled_at", "tag", "rule", "station", "found_by", "found_at", "region")
    list_filter = (RegionListFilter, "rule", "found_by")
    list_select_related = ("station", "region")
    search_fields = ("=tag",)


@admin.register(StationToken)
class StationTokenAdmin(ReadOnlyMixin, LargeListMixin, RegistryAdmin):
    """The stations' machine keys: their dates and state, never the digest. Issued and revoked on
    the station's key page (services.issue_station_token / revoke_station_tokens: the role policy,
    the audit row), which each row links to; viewing here is the same policy action's
    (accounts.roles)."""

    list_display = ("station", "created_at", "expires_at", "revoked_at", "state", "key_page")
    list_select_related = ("station",)
    search_fields = ("station__name",)
    ordering = ("-created_at", "-id")
    fields = readonly_fields = ("station", "created_at", "expires_at", "revoked_at", "state",
                                "key_page")  # fmt: skip
    deferred = ()  # no region of its own: the station's is read through its scope lookup

    @admin.display(description=_("状态"))
    def state(self, token: StationToken) -> str:
        return token.state()

    @admin.display(description=_("签发与吊销"))
    def key_page(self, token: StationToken) -> str:
        url = reverse("cylinders:station_keys", args=[token.station_id])
        return format_html('<a href="{}">{} →</a>', url, _("充装站密钥"))
