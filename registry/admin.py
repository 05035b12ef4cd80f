"""Admin for the registry: scoped to the user's jurisdiction, writes through registry.services.

Adds (and equipment changes) are service calls: the service validates codes, places the record
in its county, checks the jurisdiction and writes the audit row. Changes that no service covers
are plain saves with an audit row, and the fields a service owns (location, region, codes) are
read only there. History (life-cycle events, inspections) is never edited or deleted here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.gis.db.models import GeometryField
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.admin import (
    AuditedAdminMixin,
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    ScopedModelForm,
    is_national,
)
from geo import crs
from geo.admin import OfflineGISAdmin, RegionListFilter

from . import personal, services
from .exceptions import RegistryError
from .models import (
    Accident,
    Certificate,
    EmergencyResource,
    Equipment,
    Inspection,
    InspectionRule,
    LifecycleEvent,
    Person,
    Unit,
    UnitRole,
    Variety,
)
from .models.equipment import PIPELINE_KIND
from .validators import Finding, normalise_certificate_number

# ---------------------------------------------------------------------------------------------
# Filters


class KindListFilter(admin.SimpleListFilter):
    title = _("设备种类 / kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = Variety.objects.filter(level="kind", registrable=True).order_by("code")
        return [(v.code, f"{v.code} {v.name_zh} / {v.name_en}") for v in kinds]

    def queryset(self, request, queryset):
        return queryset.of_kind(self.value()) if self.value() else queryset


class OverdueListFilter(admin.SimpleListFilter):
    title = _("逾期 / overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("逾期 / overdue")), ("no", _("未逾期 / not overdue"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.exclude(pk__in=Equipment.objects.overdue().values("pk"))
        return queryset


class UnitRoleListFilter(admin.SimpleListFilter):
    title = _("角色 / role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return UnitRole.choices

    def queryset(self, request, queryset):
        return queryset.with_role(self.value()) if self.value() else queryset


# ---------------------------------------------------------------------------------------------
# Forms that write through a service


class ServiceForm(ScopedModelForm):
    """A model form whose write is a registry service call.

    The service has the last word on validity. After the form's own checks it is rehearsed in a
    savepoint that is then rolled back, so a RegistryError becomes errors on the fields it names;
    `RegistryAdmin.save_model` then makes the call for real. (An exception raised in save_model
    itself could only become a 500: the admin has validated the form by then.)
    """

    # Finding field → form field, for findings named after a service argument.
    error_fields: dict[str, str] = {}

    def commit(self) -> tuple[models.Model, list[Finding]]:
        """Call the service with the cleaned data; the saved record and the warnings it earned."""
        raise NotImplementedError

    def _get_validation_exclusions(self):
        # Django raises TypeError evaluating a geometry CheckConstraint (`route__isvalid`) on an
        # empty geometry. The service checks geometry; the database constraint stands behind it.
        exclude = super()._get_validation_exclusions()
        exclude.update(
            f.name for f in self._meta.model._meta.fields if isinstance(f, GeometryField)
        )
        return exclude

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.commit()
                transaction.set_rollback(True)
        except RegistryError as error:
            self.add_registry_errors(error)

    def add_registry_errors(self, error: RegistryError) -> None:
        for finding in error.findings:
            name = self.error_fields.get(finding.field, finding.field)
            message = finding.message
            if finding.suggestion:
                message += f"（{finding.suggestion}）"
            self.add_error(name if name in self.fields else None, message)
        if not error.findings:
            self.add_error(None, str(error))

    def value(self, name: str, default: Any = "") -> Any:
        value = self.cleaned_data.get(name)
        return default if value is None else value


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
            source_crs=crs.CRS.WGS84,  # the admin map draws in WGS84 / Web Mercator
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
                changes["source_crs"] = crs.CRS.WGS84
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


class OptionalRegionForm(ServiceForm):
    """The service places the record by its location; the region is only needed without one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "region" in self.fields:
            self.fields["region"].required = False
            self.fields["region"].help_text = _(
                "无位置时必填；有位置时按位置确定 / needed without a location; otherwise found from it"
            )

    def region_code(self) -> str:
        region = self.cleaned_data.get("region")
        return region.code if region else ""


class UnitAddForm(OptionalRegionForm):
    error_fields = {"region": "location"}

    def commit(self):
        unit = services.register_unit(
            acting_user=self.acting_user,
            name=self.value("name"),
            roles=self.value("roles", []),
            credit_code=self.value("credit_code"),
            address=self.value("address"),
            location=self.value("location", None),
            source_crs=crs.CRS.WGS84,
            region_code=self.region_code(),
            contact_name=self.value("contact_name"),
            contact_phone=self.value("contact_phone"),
        )
        return unit, []


class PersonAddForm(OptionalRegionForm):
    national_id = forms.CharField(
        label=_("身份证号 / national ID"),
        max_length=18,
        required=False,
        help_text=_("加密保存，仅显示脱敏号码 / stored encrypted, shown masked"),
    )

    def commit(self):
        person = services.register_person(
            acting_user=self.acting_user,
            name=self.value("name"),
            role=self.value("role"),
            region_code=self.region_code(),
            employer=self.value("employer", None),
            national_id=self.value("national_id"),
            phone=self.value("phone"),
        )
        return person, []


class AccidentAddForm(ServiceForm):
    declared_region_code = forms.CharField(
        label=_("区划代码 / division code"),
        max_length=6,
        required=False,
        help_text=_("无位置且无设备时必填 / needed without a location or equipment"),
    )
    error_fields = {"region": "location"}

    def commit(self):
        accident = services.record_accident(
            acting_user=self.acting_user,
            occurred_at=self.cleaned_data["occurred_at"],
            kind=self.value("kind"),
            location=self.value("location", None),
            source_crs=crs.CRS.WGS84,
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
            source_crs=crs.CRS.WGS84,
            capability=self.value("capability"),
            contact_name=self.value("contact_name"),
            contact_phone=self.value("contact_phone"),
            duty_hours=self.value("duty_hours"),
            address=self.value("address"),
            unit=self.value("unit", None),
        )
        return resource, []


# ---------------------------------------------------------------------------------------------
# Shared admin behaviour


class RegistryAdmin(ScopedAdminMixin, AuditedAdminMixin, OfflineGISAdmin):
    """Scoped, audited, with offline maps; a ServiceForm's write goes through its service."""

    add_form: type[ServiceForm] | None = None
    add_fieldsets: tuple | None = None
    # Region boundaries are large: never load them for a list row or an autocomplete label.
    deferred = ("region__boundary",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*self.deferred)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None and self.add_fieldsets:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def save_model(self, request, obj, form, change):
        if not isinstance(form, ServiceForm):
            super().save_model(request, obj, form, change)  # audited plain save
            return
        saved, warnings = form.commit()
        # The admin logs and redirects with `obj`: make it the record the service saved.
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False
        for finding in warnings:
            messages.warning(request, f"{finding.message}")

    def save_related(self, request, form, formsets, change):
        if not isinstance(form, ServiceForm):
            super().save_related(request, form, formsets, change)


class NationalReferenceMixin:
    """Rules that hold for the whole country (inspection intervals): national users change them."""

    def has_add_permission(self, request):
        return is_national(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_national(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_national(request.user) and super().has_delete_permission(request, obj)


class NoDeleteMixin:
    """Records other records and the exchange log point at: cancel or correct, never delete."""

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------------------------
# Catalogue


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


# ---------------------------------------------------------------------------------------------
# Equipment and its history


EQUIPMENT_UNITS = ("use_unit", "maintenance_unit", "manufacturer", "installer")


@admin.register(Equipment)
class EquipmentAdmin(NoDeleteMixin, RegistryAdmin):
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
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # one count per filter choice over every row: too slow
    search_fields = (
        "^device_code",
        "^registration_code",
        "^certificate_number",
        "=rescue_id",
        "use_unit__name",
        "=use_unit__credit_code",
    )
    search_help_text = _(
        "设备代码、注册代码、使用登记证编号、96333救援识别码、使用单位名称或信用代码 / "
        "device code, registration code, certificate number, rescue ID, use unit name or credit code"
    )
    autocomplete_fields = EQUIPMENT_UNITS
    add_fieldsets = (
        (None, {"fields": ("variety", ("device_code", "registration_code"))}),
        (None, {"fields": (("certificate_number", "rescue_id"),)}),
        (_("位置 / location"), {"fields": ("location", "address", "declared_region_code")}),
        (
            _("管道走向（仅压力管道 8000）/ pipeline route (pipelines only)"),
            {"fields": ("route",), "classes": ("collapse",)},
        ),
        (_("单位 / units"), {"fields": EQUIPMENT_UNITS}),
        (
            _("日期与参数 / dates and parameters"),
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
                _("位置 / location"),
                {
                    "fields": (
                        geometry,
                        "address",
                        ("region", "declared_region_code", "region_mismatch"),
                        "source_crs",
                    )
                },
            ),
            (_("单位 / units"), {"fields": EQUIPMENT_UNITS}),
            (
                _("日期与参数 / dates and parameters"),
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

    @admin.display(boolean=True, description=_("逾期 / overdue"), ordering="is_overdue")
    def overdue(self, obj: Equipment) -> bool | None:
        return getattr(obj, "is_overdue", None)


@admin.register(Inspection)
class InspectionAdmin(NoDeleteMixin, RegistryAdmin):
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
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    show_full_result_count = False
    search_fields = ("^equipment__device_code", "^equipment__registration_code", "^report_number")
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
class LifecycleEventAdmin(ReadOnlyAdminMixin, RegistryAdmin):
    """The append-only life-cycle history: read only."""

    deferred = ()
    list_display = ("equipment", "kind", "occurred_on", "unit", "recorded_at")
    list_filter = (RegionListFilter, "kind", "occurred_on")
    list_select_related = ("equipment", "unit")
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    show_full_result_count = False
    search_fields = ("^equipment__device_code", "^equipment__registration_code")
    fields = ("equipment", "kind", "occurred_on", "unit", "details", "recorded_at")
    ordering = ("-id",)  # newest first, on the primary key index (93,000 rows in the demo)


# ---------------------------------------------------------------------------------------------
# Units and personnel


@admin.register(Unit)
class UnitAdmin(NoDeleteMixin, RegistryAdmin):
    add_form = UnitAddForm
    list_display = ("name", "credit_code", "role_labels", "region", "contact_name", "contact_phone")
    list_filter = (RegionListFilter, UnitRoleListFilter)
    list_select_related = ("region",)
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    search_fields = ("name", "=credit_code")
    autocomplete_fields = ("region",)
    fields = (
        "name",
        "credit_code",
        "roles",
        "address",
        "location",
        "region",
        ("contact_name", "contact_phone"),
        ("created_at", "updated_at"),
    )
    add_fieldsets = ((None, {"fields": fields[:-1]}),)

    # No service moves or re-identifies a unit yet: its place and code stay as registered.
    change_readonly_fields = ("credit_code", "location", "region", "created_at", "updated_at")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "roles":
            return forms.TypedMultipleChoiceField(
                choices=UnitRole.choices,
                widget=forms.CheckboxSelectMultiple,
                label=db_field.verbose_name,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("角色 / roles"))
    def role_labels(self, obj: Unit) -> str:
        labels = dict(UnitRole.choices)
        return "，".join(str(labels.get(role, role)).split(" / ")[0] for role in obj.roles)


class CertificateInline(admin.TabularInline):
    model = Certificate
    fields = ("kind", "item_code", "number", "issued_on", "expires_on", "issuer")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Person)
class PersonAdmin(NoDeleteMixin, RegistryAdmin):
    """The national ID is shown masked only; it can be searched by its keyed hash."""

    add_form = PersonAddForm
    list_display = ("name", "role", "employer", "region", "national_id_masked")
    list_filter = (RegionListFilter, "role")
    list_select_related = ("employer", "region")
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    show_full_result_count = False
    search_fields = ("name", "employer__name", "=certificates__number")
    autocomplete_fields = ("employer", "region")
    fields = ("name", "role", "employer", "region", "national_id_masked", "phone")
    readonly_fields = ("national_id_masked",)
    add_fieldsets = (
        (None, {"fields": ("name", "role", "employer", "region", "national_id", "phone")}),
    )

    def get_inlines(self, request, obj):
        return [CertificateInline] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not getattr(request.user, "may_read_personal_data", False):
            fields = [f for f in fields if f != "phone"]
        return fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        if len(term) == 18 and term[:17].isdigit():
            return queryset.filter(national_id_hash=personal.lookup_hash(term)), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Certificate)
class CertificateAdmin(RegistryAdmin):
    deferred = ()
    list_display = ("number", "kind", "person", "issued_on", "expires_on", "issuer")
    list_filter = (RegionListFilter, "expires_on")
    list_select_related = ("person",)
    list_per_page = 50
    show_full_result_count = False
    search_fields = ("^number", "person__name")
    autocomplete_fields = ("person",)

    def audit_region_code(self, obj: Certificate) -> str:
        return obj.person.region_id


# ---------------------------------------------------------------------------------------------
# Accidents and emergency resources


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
    search_fields = (
        "kind",
        "address",
        "^equipment__device_code",
        "^equipment__registration_code",
        "unit__name",
    )
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
