"""Admin for units (companies, bodies) and personnel with their certificates."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from geo.admin import RegionListFilter

from .. import personal, services
from ..models import Certificate, Person, Unit, UnitRole
from .common import LargeListMixin, NoDeleteMixin, RegistryAdmin, ServiceForm


class UnitRoleListFilter(admin.SimpleListFilter):
    title = _("角色")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return UnitRole.choices

    def queryset(self, request, queryset):
        return queryset.with_role(self.value()) if self.value() else queryset


class OptionalRegionForm(ServiceForm):
    """The service places the record by its location; the region is only needed without one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "region" in self.fields:
            self.fields["region"].required = False
            self.fields["region"].help_text = _("无位置时必填；有位置时按位置确定")

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
            source_crs=self.map_crs,
            region_code=self.region_code(),
            contact_name=self.value("contact_name"),
            contact_phone=self.value("contact_phone"),
        )
        return unit, []


class PersonAddForm(OptionalRegionForm):
    national_id = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        required=False,
        help_text=_("加密保存，仅显示脱敏号码"),
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


@admin.register(Unit)
class UnitAdmin(NoDeleteMixin, LargeListMixin, RegistryAdmin):
    add_form = UnitAddForm
    list_display = ("name", "credit_code", "role_labels", "region", "contact_name", "contact_phone")
    list_filter = (RegionListFilter, UnitRoleListFilter)
    list_select_related = ("region",)
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

    @admin.display(description=_("角色"))
    def role_labels(self, obj: Unit) -> str:
        labels = dict(UnitRole.choices)
        return "，".join(str(labels.get(role, role)).split(" / ")[0] for role in obj.roles)


class CertificateInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Certificate
    fields = ("kind", "item_code", "number", "issued_on", "expires_on", "issuer")
    readonly_fields = fields
    extra = 0


@admin.register(Person)
class PersonAdmin(NoDeleteMixin, LargeListMixin, RegistryAdmin):
    """The national ID is shown masked only; it can be searched by its keyed hash."""

    add_form = PersonAddForm
    list_display = ("name", "role", "employer", "region", "national_id_masked")
    list_filter = (RegionListFilter, "role")
    list_select_related = ("employer", "region")
    search_fields = ("name", "employer__name", "=certificates__number")
    autocomplete_fields = ("employer", "region")
    fields = ("name", "role", "employer", "region", "national_id_masked", "phone")
    readonly_fields = ("national_id_masked",)
    add_fieldsets = (
        (None, {"fields": ("name", "role", "employer", "region", "national_id", "phone")}),
    )

    def get_inlines(self, request, obj):
        return [CertificateInline] if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        # Finding a person by ID number is a personal-data read (PersonalDataAdminMixin).
        if len(term) == 18 and term[:17].isdigit() and personal.may_read(request.user):
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
