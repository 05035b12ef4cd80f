"""The form field of every geometry an administrator draws or types: GeoJSON input meets the API's
rules (geo.geojson), so an empty, open, non-finite or deeply nested shape is a form error."""

from __future__ import annotations

from typing import Any

from django.contrib.gis import forms
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError

from .geojson import GeometryError, parse_geometry

# The name in messages: the form puts the error under the field that raised it.
FIELD = "geometry"


class CheckedGeometryField(forms.GeometryField):
    """Django's geometry field, reading its text through the API's parser before GEOS sees it."""

    def to_python(self, value: Any) -> GEOSGeometry | None:
        if value in self.empty_values:
            return None
        if isinstance(value, str) and value.lstrip().startswith("{"):
            # The map widget posts GeoJSON in its map's projection (Web Mercator).
            text, srid = value, getattr(self.widget, "map_srid", None) or self.srid
        else:
            # WKT or HEX typed by hand: GEOS reads it, and the same rules check what it read.
            geometry = value if isinstance(value, GEOSGeometry) else super().to_python(value)
            if geometry.empty:  # GEOS writes no GeoJSON for it
                raise ValidationError(
                    "几何为空 / the geometry is empty: draw or type a shape", code="geometry.empty"
                )
            text, srid = geometry.json, geometry.srid
        try:
            return parse_geometry(text, FIELD, srid=srid or self.srid)
        except GeometryError as error:
            raise ValidationError(error.message, code=error.rule) from None
