"""What every registry admin shares: the service-backed form and admin, and permission mixins."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction

from accounts.admin import AuditedAdminMixin, ScopedAdminMixin, ScopedModelForm
from geo import crs
from geo.admin import OfflineGISAdmin

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
