"""Admin for equipment and its history: inspections and life-cycle events."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from geo.admin import RegionListFilter

from .. import services
from ..models import Equipment, Inspection, LifecycleEvent, Variety
from ..models.equipment import PIPELINE_KIND
from ..validators import normalise_certificate_number
from .common import (
    EQUIPMENT_CODE_SEARCH,
    LargeListMixin,
    NoDeleteMixin,
    RegistryAdmin,
    ServiceForm,
)

EQUIPMENT_UNITS = ("use_unit", "maintenance_unit", "manufacturer", "installer")


class KindListFilter(admin.SimpleListFilter):
    title = _("设备种类")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = Variety.objects.filter(level="kind", registrable=True).order_by("code")
        return [(v.code, f"{v.code} {v.name_zh} / {v.name_en}") for v in kinds]

    def queryset(self, request, queryset):
        return queryset.of_kind(self.value()) if self.value() else queryset


class OverdueListFilter(admin.SimpleListFilter):
    title = _("逾期")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("逾期")), ("no", _("未逾期"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.exclude(pk__in=Equipment.objects.overdue().values("pk"))
        return queryset


class EquipmentAddForm(ServiceForm):
    error_fields = {"region": "location", "variety_code": "variety"}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("variety") is not None:
            # Equipment.clean checks the geometry against the kind, which registration sets.
            self.instance.kind = cleaned["variety"].kind_code
        return cleaned

    def commit(self):
        return services.register_equipment(
            acting_user=self.acting_user,
            variety_code=self.cleaned_data["variety"].code,
            use_unit=self.cleaned_data["use_unit"],
            location=self.value("location", None),
            route=self.value("route", None),
            source_crs=self.map_crs,
            declared_region_code=self.value("declared_region_code"),
            address=self.value("address"),
            device_code=self.value("device_code"),
            registration_code=self.value("registration_code"),
            certificate_number=self.value("certificate_number"),
            rescue_id=self.value("rescue_id"),
            maintenance_unit=self.value("maintenance_unit", None),
            manufacturer=self.value("manufacturer", None),
            installer=self.value("installer", None),
            manufactured_on=self.value("manufactured_on", None),
            commissioned_on=self.value("commissioned_on", None),
            params=self.value("params", None) or {},
        )


class EquipmentChangeForm(ServiceForm):
    error_fields = {"region": "location"}
    updatable = services.EDITABLE_EQUIPMENT_FIELDS | {"location"}

    def commit(self):
        equipment = self.instance
        changes = {
            name: self.cleaned_data[name] for name in self.changed_data if name in self.updatable
        }
        if changes:
            if "location" in changes:
                changes["source_crs"] = self.map_crs
            equipment = services.update_equipment(
                equipment, acting_user=self.acting_user, **changes
            )
        if "status" in self.changed_data:
            equipment = services.change_equipment_status(
                equipment, self.cleaned_data["status"], acting_user=self.acting_user
            )
        return equipment, []


class InspectionAddForm(ServiceForm):
    def commit(self):
        inspection = services.record_inspection(
            self.cleaned_data["equipment"],
            acting_user=self.acting_user,
            conclusion=self.cleaned_data["conclusion"],
            inspected_on=self.cleaned_data["inspected_on"],
            kind=self.cleaned_data["kind"],
            body=self.value("body", None),
            inspector=self.value("inspector", None),
            defects=self.value("defects", 0),
            defect_notes=self.value("defect_notes"),
            report_number=self.value("report_number"),
        )
        return inspection, []


@admin.register(Equipment)
class EquipmentAdmin(NoDeleteMixin, LargeListMixin, RegistryAdmin):
    form = EquipmentChangeForm
    add_form = EquipmentAddForm
    list_display = (
        "__str__",
        "registration_code",
        "certificate_number",
        "rescue_id",
        "variety",
        "status",
        "region",
        "use_unit",
        "next_inspection_due",
        "overdue",
    )
    list_filter = (
        RegionListFilter,
        KindListFilter,
        "status",
        ("variety", admin.RelatedOnlyFieldListFilter),
        OverdueListFilter,
        "region_mismatch",
    )
    list_select_related = ("variety", "region", "use_unit")
    search_fields = (
        "^device_code",
        "^registration_code",
        "^certificate_number",
        "=rescue_id",
        "use_unit__name",
        "=use_unit__credit_code",
    )
    search_help_text = _(
        "设备代码、注册代码、使用登记证编号、96333救援识别码、使用单位名称或信用代码"
    )
    autocomplete_fields = EQUIPMENT_UNITS
    add_fieldsets = (
        (None, {"fields": ("variety", ("device_code", "registration_code"))}),
        (None, {"fields": (("certificate_number", "rescue_id"),)}),
        (_("位置"), {"fields": ("location", "address", "declared_region_code")}),
        (
            _("管道走向（仅压力管道 8000）"),
            {"fields": ("route",), "classes": ("collapse",)},
        ),
        (_("单位"), {"fields": EQUIPMENT_UNITS}),
        (
            _("日期与参数"),
            {"fields": (("manufactured_on", "commissioned_on"), "params")},
        ),
    )
    change_readonly_fields = (
        "device_code",
        "registration_code",
        "variety",
        "kind",
        "route",
        "region",
        "declared_region_code",
        "region_mismatch",
        "source_crs",
        "use_unit",
        "manufacturer",
        "installer",
        "next_inspection_due",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        overdue = Equipment.objects.overdue().filter(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(is_overdue=Exists(overdue))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        geometry = "route" if obj.kind == PIPELINE_KIND else "location"
        fieldsets = (
            (
                None,
                {
                    "fields": (
                        ("device_code", "registration_code"),
                        ("certificate_number", "rescue_id"),
                        ("variety", "kind"),
                        "status",
                    )
                },
            ),
            (
                _("位置"),
                {
                    "fields": (
                        geometry,
                        "address",
                        ("region", "declared_region_code", "region_mismatch"),
                        "source_crs",
                    )
                },
            ),
            (_("单位"), {"fields": EQUIPMENT_UNITS}),
            (
                _("日期与参数"),
                {
                    "fields": (
                        ("manufactured_on", "commissioned_on"),
                        "next_inspection_due",
                        "params",
                        ("created_at", "updated_at"),
                    )
                },
            ),
        )
        return self.swap_readonly_geometry(request, obj, fieldsets)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "variety":
            # Only current, most specific entries can be registered (services.register_equipment).
            kwargs["queryset"] = Variety.objects.filter(registrable=True, retired=False).exclude(
                children__retired=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # Certificate numbers are stored half-width: 起17宁A0001（24） finds 起17宁A0001(24).
        search_term = " ".join(normalise_certificate_number(word) for word in search_term.split())
        return super().get_search_results(request, queryset, search_term)

    @admin.display(boolean=True, description=_("逾期"), ordering="is_overdue")
    def overdue(self, obj: Equipment) -> bool | None:
        return getattr(obj, "is_overdue", None)


@admin.register(Inspection)
class InspectionAdmin(NoDeleteMixin, LargeListMixin, RegistryAdmin):
    """Inspections are recorded (moving the due date) and never edited: a correction is a new record."""

    add_form = InspectionAddForm
    deferred = ()
    list_display = (
        "equipment",
        "inspected_on",
        "kind",
        "conclusion",
        "defects",
        "next_due",
        "report_number",
        "body",
    )
    list_filter = (RegionListFilter, "kind", "conclusion", "inspected_on")
    list_select_related = ("equipment", "body")
    search_fields = (*EQUIPMENT_CODE_SEARCH, "^report_number")
    autocomplete_fields = ("equipment", "body", "inspector")
    fields = (
        "equipment",
        ("kind", "inspected_on"),
        ("conclusion", "defects"),
        "defect_notes",
        "report_number",
        ("body", "inspector"),
        "next_due",
    )
    add_fieldsets = ((None, {"fields": fields[:-1]}),)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(ReadOnlyAdminMixin, LargeListMixin, RegistryAdmin):
    """The append-only life-cycle history: read only."""

    deferred = ()
    list_display = ("equipment", "kind", "occurred_on", "unit", "recorded_at")
    list_filter = (RegionListFilter, "kind", "occurred_on")
    list_select_related = ("equipment", "unit")
    search_fields = EQUIPMENT_CODE_SEARCH
    fields = ("equipment", "kind", "occurred_on", "unit", "details", "recorded_at")
    ordering = ("-id",)  # newest first, on the primary key index (93,000 rows in the demo)
