"""What every registry admin shares: the service-backed form and admin, and permission mixins."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models, transaction

from accounts.admin import AuditedAdminMixin, ScopedAdminMixin, ScopedModelForm
from accounts.audit import record_personal_data_read
from common.errors import DomainError
from geo import crs
from geo.admin import OfflineGISAdmin

from .. import personal
from ..exceptions import RegistryError
from ..validators import Finding

# Records found by the equipment they concern (inspections, history, accidents).
EQUIPMENT_CODE_SEARCH = ("^equipment__device_code", "^equipment__registration_code")


class ServiceForm(ScopedModelForm):
    """A model form whose write is a registry service call.

    The service has the last word on validity. After the form's own checks it is rehearsed in a
    savepoint that is then rolled back, so a RegistryError becomes errors on the fields it names;
    `RegistryAdmin.save_model` then makes the call for real. (An exception raised in save_model
    itself could only become a 500: the admin has validated the form by then.)
    """

    # Finding field → form field, for findings named after a service argument.
    error_fields: dict[str, str] = {}
    # The CRS of geometry drawn on the admin map, which draws in WGS84 / Web Mercator.
    map_crs = crs.CRS.WGS84

    def commit(self) -> tuple[models.Model, list[Finding]]:
        """Call the service with the cleaned data; the saved record and the warnings it earned."""
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.commit()
                transaction.set_rollback(True)
        except DomainError as error:  # a RegistryError, or an app's above (cylinders)
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


def masked_name(field_name: str) -> str:
    return f"{field_name}_masked"


class PersonalDataAdminMixin:
    """The personal fields of registry.personal in the admin.

    For roles without personal data they are masked and read only in lists and change pages, and
    never searched, filtered or sorted on: a `contact_phone__startswith` query string is refused
    (400) rather than answering, row by row, what the number starts with. For roles with it, each
    list or change page that shows them in full leaves an audit row per record shown.
    """

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.personal_fields = personal.fields_of(model)
        for name in self.personal_fields:
            setattr(self, masked_name(name), self._masked_display(name))

    def _masked_display(self, name: str):
        def display(obj):
            return personal.masked(obj, name) or self.get_empty_value_display()

        display.short_description = self.model._meta.get_field(name).verbose_name
        return display

    def _swap(self, entries):
        """Field names with each personal one replaced by its masked display."""
        return type(entries)(
            self._swap(e) if isinstance(e, list | tuple) else self._masked(e) for e in entries
        )

    def _masked(self, entry):
        return masked_name(entry) if entry in self.personal_fields else entry

    def _hides(self, request) -> bool:
        return bool(self.personal_fields) and not personal.may_read(request.user)

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        return self._swap(tuple(fields)) if self._hides(request) else fields

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if self._hides(request):
            fields = [*fields, *(masked_name(n) for n in self.personal_fields)]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not self._hides(request):
            return fieldsets
        return [
            (title, {**opts, "fields": self._swap(opts["fields"])}) for title, opts in fieldsets
        ]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if not self._hides(request):
            return fields
        return [f for f in fields if not personal.lookup_is_personal(self.model, f.lstrip("^=@"))]

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not personal.may_read(request.user):
            filters = [
                f
                for f in filters
                if not (isinstance(f, str) and personal.lookup_is_personal(self.model, f))
            ]
        return filters

    def lookup_allowed(self, lookup, value, request):
        # Any model on the path counts: an equipment list filtered on its use unit's phone leaks too.
        if not personal.may_read(request.user) and personal.lookup_is_personal(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        if "cl" in changelist and personal.may_read(request.user):
            self._audit_reads(
                request, changelist["cl"].result_list, changelist["cl"].list_display, "admin list"
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "GET" and context.get("original") is not None:
            obj = context["original"]
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
            self._audit_reads(request, [obj], fields, "admin change page")
        return response

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # An autocomplete answer lists records by label; the page it serves is what was read.
        label = personal.LABEL_FIELDS.get(self.model._meta.label, ())
        match = getattr(request, "resolver_match", None)
        if not label or match is None or match.url_name != "autocomplete":
            return super().get_paginator(
                request, queryset, per_page, orphans, allow_empty_first_page
            )
        audit = self._audit_reads

        class AuditedPaginator(self.paginator):
            def page(self, number):
                page = super().page(number)
                audit(request, page.object_list, label, "admin autocomplete")
                return page

        return AuditedPaginator(queryset, per_page, orphans, allow_empty_first_page)

    def _audit_reads(self, request, records, fields, purpose: str) -> None:
        for obj in records:
            shown = personal.shown_in_full(request.user, obj, fields)
            if shown:
                record_personal_data_read(request.user, [obj], shown, purpose)


SEEN_VERSION = "seen_version"
STALE = (
    "此记录在您打开后已被他人修改，您的修改未保存：请重新打开后再改 / this record was changed by "
    "someone else after you opened it, and your changes were not saved: open it again and redo them"
)


class VersionChecked:
    """A change form refused when the record moved on since it was opened (optimistic concurrency):
    the version the page was drawn at (templates/admin/registry/change_form.html) must still be the
    record's. The row is locked from the check to the save (the admin's view is one transaction)."""

    def clean(self):
        cleaned = super().clean()
        seen = str(self.data.get(SEEN_VERSION, ""))
        current = (
            type(self.instance)
            ._base_manager.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if not (seen.isascii() and seen.isdigit() and int(seen) == current):
            raise forms.ValidationError(STALE, code="stale")
        return cleaned


class RegistryAdmin(PersonalDataAdminMixin, ScopedAdminMixin, AuditedAdminMixin, OfflineGISAdmin):
    """Scoped, audited, with offline maps, personal data masked or audited; a ServiceForm's write
    goes through its service."""

    add_form: type[ServiceForm] | None = None
    add_fieldsets: tuple | None = None
    # Region boundaries are large: never load them for a list row or an autocomplete label.
    deferred = ("region__boundary",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*self.deferred)

    change_form_template = "admin/registry/change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and hasattr(obj, "version"):
            return type(form.__name__, (VersionChecked, form), {})
        return form

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


class LargeListMixin:
    """Lists of tens of thousands of rows: short pages, no full count, and no facets (one count
    per filter choice over every row: too slow)."""

    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class NoDeleteMixin:
    """Records other records and the exchange log point at: cancel or correct, never delete."""

    def has_delete_permission(self, request, obj=None):
        return False
