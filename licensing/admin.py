"""Licences and applications in the admin: read there, written through licensing.services."""

from django.contrib import admin

from .models import Application, Licence


class ScopedReadOnly(admin.ModelAdmin):
    """The jurisdiction's rows, read only: writes go through the services (audited)."""

    def get_queryset(self, request):
        return super().get_queryset(request).model.objects.visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Licence)
class LicenceAdmin(ScopedReadOnly):
    list_display = ("number", "unit", "kind", "issued_on", "expires_on", "status")
    list_filter = ("kind", "status")
    search_fields = ("number",)


@admin.register(Application)
class ApplicationAdmin(ScopedReadOnly):
    list_display = ("pk", "unit", "kind", "state", "step_due_on")
    list_filter = ("kind", "state")
