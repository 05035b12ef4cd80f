"""Read-only detail pages of one equipment, unit, accident or emergency resource, scoped to the user.

The views are DRF generic views rendering templates: DRF's ``get_object_or_404`` over a scoped
queryset gives another jurisdiction's record the same 404 as a missing one, and the URL-conf leak
walk (tests/test_jurisdiction_leaks.py) learns each page's model from the view class.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import GEOSGeometry
from django.db.models import Count, Model, Q
from django.shortcuts import get_object_or_404
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response

from accounts.audit import record_personal_data_read
from accounts.models import User
from common.i18n import in_language
from geo.functions import present
from geo.offline import add_outline, map_fragment, offline_map, region_outline
from registry import catalogue
from registry.models import Accident, EmergencyResource, Equipment, Unit, UnitRole, Variety
from registry.personal import shown_in_full, value_for

SHORT_LIST = 50
CONTACT_FIELDS = ("contact_name", "contact_phone")
STAFF_FIELDS = ("name", "phone")


def small_map(geometry: GEOSGeometry | None, region_code: str) -> dict:
    """The record's point or route over its county outline, framed on the record (a legacy empty
    geometry is drawn as none)."""
    import folium

    geometry = present(geometry)
    m = offline_map(zoom_start=14, control_scale=True)
    outline = region_outline(region_code)
    if outline:
        layer = add_outline(m, outline[1], name=outline[0], weight=1.5, fillOpacity=0.12)
        m.fit_bounds(layer.get_bounds())
    # With no basemap offline, the county outline is what locates the record: frame the whole county.
    if geometry is not None and geometry.geom_type == "Point":
        folium.CircleMarker(
            (geometry.y, geometry.x), radius=7, color="#b2182b", fill=True, fill_opacity=0.85
        ).add_to(m)
        if not outline:
            m.location = [geometry.y, geometry.x]
    elif geometry is not None:
        route = folium.GeoJson(
            json.loads(geometry.geojson),
            style_function=lambda f: {"color": "#b2182b", "weight": 4},
        ).add_to(m)
        if not outline:
            m.fit_bounds(route.get_bounds())
    return map_fragment(m)


def visible_unit_ids(user: User, units: Iterable[Unit | None]) -> set[int]:
    """Of these units, the ones the user may open (the rest are shown by name only)."""
    ids = {u.pk for u in units if u is not None}
    if not ids:
        return set()
    return set(Unit.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def contact_of(user: User, record: Unit | EmergencyResource) -> dict[str, str]:
    """The record's contact as this user may see it (masked without personal data)."""
    return {field: value_for(user, record, field) for field in CONTACT_FIELDS}


def audit_page_read(user: User, record: Model, staff: Iterable[Model] = ()) -> None:
    """One audit row per page view that showed personal data in full: the page's record, the
    fields shown, and the people listed on it."""
    shown = list(shown_in_full(user, record, CONTACT_FIELDS))
    people = [p.pk for p in staff if shown_in_full(user, p, STAFF_FIELDS)]
    if people:
        shown += [f"staff.{field}" for field in STAFF_FIELDS]
    if shown:
        related = {"registry.Person": people} if people else None
        purpose = f"{record._meta.model_name} page"
        record_personal_data_read(user, [record], tuple(shown), purpose, related=related)


class DetailPage(GenericAPIView):
    """One scoped record rendered as an HTML page."""

    model: type[Model]
    renderer_classes = [TemplateHTMLRenderer]
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get(self, request, pk: int) -> Response:
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        return Response({"object": obj, **self.context(obj)})

    def context(self, obj) -> dict:
        return {}


class EquipmentDetail(DetailPage):
    model = Equipment
    template_name = "registry/detail_equipment.html"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related(
                "variety", "region", "use_unit", "maintenance_unit", "manufacturer", "installer"
            )
            .prefetch_related("inspections__body", "events__unit")
        )

    def context(self, device: Equipment) -> dict:
        user = self.request.user
        units = [device.use_unit, device.maintenance_unit, device.manufacturer, device.installer]
        inspections = list(device.inspections.all())
        bodies = [i.body for i in inspections]
        return {
            "overdue": Equipment.objects.overdue().filter(pk=device.pk).exists(),
            "visible_units": visible_unit_ids(user, units + bodies),
            "inspections": sorted(inspections, key=lambda i: (i.inspected_on, i.pk), reverse=True),
            "events": device.events.all(),
            "accidents": Accident.objects.visible_to(user)
            .filter(equipment=device)
            .order_by("-occurred_at"),
            "params": catalogue.labelled_parameters(device.kind, device.params or {}),
            "map": small_map(device.geometry, device.region_id),
        }


class UnitDetail(DetailPage):
    model = Unit
    template_name = "registry/detail_unit.html"

    def get_queryset(self):
        return super().get_queryset().select_related("region")

    def context(self, unit: Unit) -> dict:
        user = self.request.user
        devices = Equipment.objects.visible_to(user).filter(
            Q(use_unit=unit) | Q(maintenance_unit=unit)
        )
        counts = list(
            devices.values("kind")
            .annotate(
                used=Count("pk", filter=Q(use_unit=unit)),
                maintained=Count("pk", filter=Q(maintenance_unit=unit)),
            )
            .order_by("kind")
        )
        names = {
            code: in_language(zh, en)
            for code, zh, en in Variety.objects.filter(
                code__in=[c["kind"] for c in counts]
            ).values_list("code", "name_zh", "name_en")
        }
        for row in counts:
            row["name"] = names.get(row["kind"], "")
        people = list(unit.staff.order_by("name", "pk")[:SHORT_LIST])
        staff = [
            {"person": p, **{field: value_for(user, p, field) for field in STAFF_FIELDS}}
            for p in people
        ]
        audit_page_read(user, unit, people)
        return {
            "roles": [UnitRole(r).label for r in unit.roles if r in UnitRole.values],
            "contact": contact_of(user, unit),
            "counts": counts,
            "devices": devices.select_related("variety").order_by("device_code", "pk")[:SHORT_LIST],
            "staff": staff,
            "short_list": SHORT_LIST,
            "map": small_map(unit.location, unit.region_id),
        }


class AccidentDetail(DetailPage):
    model = Accident
    template_name = "registry/detail_accident.html"

    def get_queryset(self):
        return super().get_queryset().select_related("region", "equipment__variety", "unit")

    def context(self, accident: Accident) -> dict:
        user = self.request.user
        equipment_visible = (
            accident.equipment_id is not None
            and Equipment.objects.visible_to(user).filter(pk=accident.equipment_id).exists()
        )
        return {
            "equipment_visible": equipment_visible,
            "visible_units": visible_unit_ids(user, [accident.unit]),
            "map": small_map(accident.location, accident.region_id),
        }


class ResourceDetail(DetailPage):
    model = EmergencyResource
    template_name = "registry/detail_resource.html"

    def get_queryset(self):
        return super().get_queryset().select_related("region", "unit")

    def context(self, resource: EmergencyResource) -> dict:
        user = self.request.user
        audit_page_read(user, resource)
        return {
            "contact": contact_of(user, resource),
            "visible_units": visible_unit_ids(user, [resource.unit]),
            "map": small_map(resource.location, resource.region_id),
        }


# login_required first: an anonymous visitor is sent to the login page, as on every other page.
equipment_detail = login_required(EquipmentDetail.as_view())
unit_detail = login_required(UnitDetail.as_view())
accident_detail = login_required(AccidentDetail.as_view())
resource_detail = login_required(ResourceDetail.as_view())
