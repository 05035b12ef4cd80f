"""Admin for regions, and the map pieces every admin shares: offline map widget framing, region filter.

`geo` imports none of the other apps: the user model is only asked for `jurisdiction_prefix`
(accounts.models.User), the division-code prefix it may read ('' national, None nothing).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.db import models as gis_models
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _

from .basemap import BASEMAP_MAX_AGE_S, LEVEL_ORDER, basemap_geojson, map_framing
from .divisions import child_level
from .forms import CheckedGeometryField
from .models import Region
from .scoping import prefix_of
from .widgets import OfflineMapWidget


def map_display_name(field_name: str) -> str:
    return f"{field_name}_map"


class OfflineGISAdmin(GISModelAdmin):
    """GISModelAdmin whose maps work offline, open on the user's jurisdiction, and also show
    read-only geometry (view permission, readonly_fields) as a map instead of pages of WKT."""

    gis_widget = OfflineMapWidget
    # Read only once the record exists (set by the service that created it). Set this rather
    # than override get_readonly_fields, whose answer must keep the map displays added here.
    change_readonly_fields: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.geometry_fields = {
            field.name: field
            for field in model._meta.get_fields()
            if isinstance(field, gis_models.GeometryField)
        }
        for field in self.geometry_fields.values():
            setattr(self, map_display_name(field.name), self._map_display(field))

    def _map_display(self, field: gis_models.GeometryField):
        def display(obj):
            value = getattr(obj, field.name)
            if value is None:
                return self.get_empty_value_display()
            widget = self.gis_widget(attrs={"geom_type": field.geom_type})
            name = map_display_name(field.name)
            return widget.render(name, value, attrs={"id": f"id_{name}", "disabled": True})

        display.short_description = field.verbose_name
        return display

    def map_framing(self, request: HttpRequest) -> dict[str, float]:
        # Asked once per geometry field: keep the answer for the request.
        if not hasattr(request, "_segis_map_framing"):
            request._segis_map_framing = map_framing(prefix_of(request.user))
        return request._segis_map_framing

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, gis_models.GeometryField):
            kwargs["widget"] = self.gis_widget(attrs=self.map_framing(request))
            # The API's rules for what is drawn or typed: a bad shape is a form error, not a 500.
            kwargs.setdefault("form_class", CheckedGeometryField)
            return db_field.formfield(**kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [f for f in self.change_readonly_fields if f not in fields]
        return fields + [map_display_name(f) for f in fields if f in self.geometry_fields]

    def get_fieldsets(self, request, obj=None):
        return self.swap_readonly_geometry(request, obj, super().get_fieldsets(request, obj))

    def swap_readonly_geometry(self, request, obj, fieldsets):
        """Fieldsets with each read-only geometry field replaced by its map display."""
        readonly = set(self.get_readonly_fields(request, obj))
        view_only = obj is not None and not self.has_change_permission(request, obj)
        seen: set[str] = set()

        def swap(name):
            if name in self.geometry_fields and (view_only or name in readonly):
                name = map_display_name(name)
            if name in seen:
                return None
            seen.add(name)
            return name

        swapped = []
        for title, options in fieldsets:
            fields = []
            for entry in options.get("fields", ()):
                if isinstance(entry, list | tuple):
                    line = tuple(n for n in map(swap, entry) if n)
                    if line:
                        fields.append(line)
                elif name := swap(entry):
                    fields.append(name)
            swapped.append((title, {**options, "fields": fields}))
        return swapped

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Read-only maps are not form widgets, so the form's media lacks them.
        context["media"] = context["media"] + self.gis_widget().media
        return super().render_change_form(request, context, add, change, form_url, obj)


class RegionListFilter(admin.SimpleListFilter):
    """Rows in one region of the user's jurisdiction.

    Lists the level below the jurisdiction (national: provinces, province: cities, city: counties)
    and the children of the selected region, so a user drills down without a list of thousands.
    """

    title = _("所在区划")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        prefix = prefix_of(request.user)
        if prefix is None:
            return []
        below = child_level(prefix) if len(prefix) < 6 else None
        wanted = Q(level=below) if below else Q(pk__in=[])
        selected = self.value()
        if selected:
            path = {selected[:2] + "0000", selected[:4] + "00", selected}
            wanted |= Q(parent_id__in=path)
        depth = LEVEL_ORDER.index(below) if below else 0
        return [
            (region.code, "\u3000" * max(LEVEL_ORDER.index(region.level) - depth, 0) + str(region))
            for region in Region.objects.within_prefix(prefix)
            .filter(wanted)
            .exclude(code=prefix.ljust(6, "0"))
            .only("code", "name", "level")
        ]

    def queryset(self, request, queryset):
        code = self.value()
        if not code:
            return queryset
        prefix = prefix_of(request.user)
        region = (
            Region.objects.within_prefix(prefix).filter(code=code).only("code", "level").first()
            if prefix is not None
            else None
        )
        if region is None:
            return queryset.none()
        return queryset.within_prefix(region.code_prefix)  # geo.scoping.ScopedQuerySet


@admin.register(Region)
class RegionAdmin(OfflineGISAdmin):
    """Read only: codes and boundaries come from `load_boundaries`, with their source."""

    list_display = ("code", "name", "level", "parent", "source")
    list_filter = ("level", RegionListFilter)
    list_select_related = ("parent",)
    search_fields = ("^code", "name")
    fields = ("code", "name", "level", "parent", "source", "seat", "boundary")

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("区划不存在"))
        return obj

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        basemap = self.admin_site.admin_view(self.basemap_view, cacheable=True)
        return [
            path("basemap.geojson", basemap, name="geo_region_basemap"),
            *super().get_urls(),
        ]

    def basemap_view(self, request: HttpRequest) -> HttpResponse:
        """Outlines of the requester's jurisdiction: the base layer of every admin map."""
        response = HttpResponse(
            basemap_geojson(prefix_of(request.user)),
            content_type="application/geo+json",
        )
        patch_cache_control(response, private=True, max_age=BASEMAP_MAX_AGE_S)
        return response
