"""Map widgets that work with no internet: vendored OpenLayers over our own region outlines."""

from __future__ import annotations

import math

from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.contrib.gis.gdal import GDALException
from django.forms.renderers import TemplatesSetting
from django.urls import reverse_lazy

from .mercator import RESOLUTION_AT_ZOOM_0

# The admin's `.dj_map` box (admin/css/widgets.css).
MAP_SIZE_PX = (600, 400)


class OfflineMapWidget(OpenLayersWidget):
    """Django's OpenLayers widget with OpenLayers from static/vendor and a base layer of region outlines.

    The base layer is GeoJSON served by the region admin (`basemap_url`), scoped to the user, so
    the map shows where things are on an intranet with no tile server. `default_lon`,
    `default_lat` and `default_zoom` frame an empty field; the admin sets them to the user's
    jurisdiction.
    """

    template_name = "admin/gis/offline-openlayers.html"
    default_lon = 104.0  # China, for a widget used without a jurisdiction
    default_lat = 35.5
    default_zoom = 4
    basemap_url = reverse_lazy("admin:geo_region_basemap")

    class Media:
        extend = False  # the parent's Media links OpenLayers on a CDN
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js", "js/offline-basemap.js")

    def __init__(self, attrs=None):
        super().__init__()
        for key in ("default_lon", "default_lat", "default_zoom", "basemap_url"):
            self.attrs[key] = getattr(self, key)
        if attrs:
            self.attrs.update(attrs)

    def deserialize(self, value):
        # Redrawing a refused form reads the posted text again; Django lets GDAL's error on
        # GeoJSON it cannot read (an empty coordinate array) escape as a 500. The field has
        # already said what is wrong, so the map is drawn empty.
        try:
            return super().deserialize(value)
        except GDALException:
            return None

    def _render(self, template_name, context, renderer=None):
        # The form renderer only searches app template folders; the template lives in the
        # project's templates/, which the TEMPLATES setting's engine searches.
        return super()._render(template_name, context, TemplatesSetting())


def zoom_to_fit(
    width_m: float, height_m: float, size_px: tuple[int, int] = MAP_SIZE_PX, margin: float = 0.1
) -> float:
    """The Web Mercator zoom (fractional, to 0.1) at which a box of this size (metres) fits the map,
    with `margin` of a zoom level to spare."""
    resolution = max(width_m / size_px[0], height_m / size_px[1], 1.0)
    zoom = math.log2(RESOLUTION_AT_ZOOM_0 / resolution) - margin
    return min(max(math.floor(zoom * 10) / 10, 0.0), 18.0)
