"""Admin for the national ↔ provincial exchange: the peers pulled from and the entries not applied.

National users only: a peer's feed is a whole province, and a conflict's snapshot may belong to any
county of it. Conflicts are read only but for "resolved", which a person sets once they have
settled the record by hand (nothing is overwritten automatically).
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from accounts.admin import AuditedAdminMixin, is_national

from ..exchange import keys
from ..models.exchange import ExchangeConflict, ExchangePeer


class NationalOnlyMixin:
    def has_module_permission(self, request):
        return is_national(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_national(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return is_national(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_national(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExchangePeer)
class ExchangePeerAdmin(NationalOnlyMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "base_url", "has_key", "state", "applied_seq", "last_pull_at")
    list_filter = ("state",)
    search_fields = ("^code", "name")
    # The token is a credential: set by `manage.py add_exchange_peer`, never shown or audited.
    exclude = ("token",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    audit_exclude = ("token",)
    readonly_fields = ("applied_seq", "last_hash", "state", "last_pull_at", "last_message")

    def has_add_permission(self, request):
        return False  # a peer needs its token: manage.py add_exchange_peer

    @admin.display(boolean=True, description="交换密钥 / exchange key")
    def has_key(self, obj) -> bool:
        # Whether SEGIS_EXCHANGE_KEYS names this province: without it every pull stops. Never the key.
        return keys.key_for(obj.code) is not None


@admin.register(ExchangeConflict)
class ExchangeConflictAdmin(NationalOnlyMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("peer", "seq", "kind", "operation", "model", "division_code", "resolved")
    list_filter = ("resolved", "kind", "peer")
    search_fields = ("^division_code", "message")
    fields = (
        "peer",
        "seq",
        "kind",
        "operation",
        "model",
        "origin_pk",
        "division_code",
        "message",
        "payload",
        "detected_at",
        "resolved",
    )
    readonly_fields = tuple(name for name in fields if name != "resolved")

    def audit_region_code(self, obj) -> str:
        return obj.division_code
