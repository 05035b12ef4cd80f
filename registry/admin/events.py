"""Admin for accidents and emergency resources."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from geo.admin import RegionListFilter

from .. import services
from ..models import Accident, EmergencyResource
from .common import EQUIPMENT_CODE_SEARCH, NoDeleteMixin, RegistryAdmin, ServiceForm


class AccidentAddForm(ServiceForm):
    declared_region_code = forms.CharField(
        label=_("区划代码"),
        max_length=6,
        required=False,
        help_text=_("无位置且无设备时必填"),
    )
    error_fields = {"region": "location"}

    def commit(self):
        accident = services.record_accident(
            acting_user=self.acting_user,
            occurred_at=self.cleaned_data["occurred_at"],
            kind=self.value("kind"),
            location=self.value("location", None),
            source_crs=self.map_crs,
            declared_region_code=self.value("declared_region_code"),
            equipment=self.value("equipment", None),
            unit=self.value("unit", None),
            severity=self.value("severity"),
            deaths=self.value("deaths", 0),
            injuries=self.value("injuries", 0),
            direct_loss=self.value("direct_loss", 0),
            cause_class=self.value("cause_class"),
            address=self.value("address"),
            description=self.value("description"),
        )
        return accident, []


class ResourceAddForm(ServiceForm):
    error_fields = {"region": "location"}

    def commit(self):
        resource = services.register_resource(
            acting_user=self.acting_user,
            name=self.value("name"),
            resource_type=self.value("resource_type"),
            location=self.value("location", None),
            source_crs=self.map_crs,
            capability=self.value("capability"),
            contact_name=self.value("contact_name"),
            contact_phone=self.value("contact_phone"),
            duty_hours=self.value("duty_hours"),
            address=self.value("address"),
            unit=self.value("unit", None),
        )
        return resource, []


@admin.register(Accident)
class AccidentAdmin(NoDeleteMixin, RegistryAdmin):
    add_form = AccidentAddForm
    list_display = (
        "occurred_at",
        "kind",
        "severity",
        "deaths",
        "injuries",
        "region",
        "equipment",
        "unit",
        "investigation_status",
    )
    list_filter = (
        RegionListFilter,
        "severity",
        "cause_class",
        "investigation_status",
        "occurred_at",
    )
    list_select_related = ("region", "equipment", "unit")
    show_full_result_count = False
    search_fields = ("kind", "address", *EQUIPMENT_CODE_SEARCH, "unit__name")
    autocomplete_fields = ("equipment", "unit")
    fields = (
        ("occurred_at", "kind"),
        ("severity", "cause_class", "investigation_status"),
        "location",
        "address",
        "region",
        ("equipment", "unit"),
        ("deaths", "injuries", "direct_loss"),
        "description",
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    ("occurred_at", "kind"),
                    ("severity", "cause_class"),
                    "location",
                    "address",
                    "declared_region_code",
                    ("equipment", "unit"),
                    ("deaths", "injuries", "direct_loss"),
                    "description",
                )
            },
        ),
    )

    change_readonly_fields = ("location", "region")


@admin.register(EmergencyResource)
class EmergencyResourceAdmin(RegistryAdmin):
    add_form = ResourceAddForm
    list_display = (
        "name",
        "resource_type",
        "region",
        "unit",
        "contact_name",
        "contact_phone",
        "duty_hours",
    )
    list_filter = (RegionListFilter, "resource_type")
    list_select_related = ("region", "unit")
    show_full_result_count = False
    search_fields = ("name", "address", "unit__name", "=unit__credit_code")
    autocomplete_fields = ("unit",)
    fields = (
        ("name", "resource_type"),
        "capability",
        ("contact_name", "contact_phone", "duty_hours"),
        "location",
        "address",
        "region",
        "unit",
    )
    add_fieldsets = ((None, {"fields": tuple(f for f in fields if f != "region")}),)

    change_readonly_fields = ("location", "region")
