"""PostGIS functions the ORM has no word for."""

from __future__ import annotations

from django.contrib.gis.db.models.functions import GeomOutputGeoFunc, IsEmpty
from django.contrib.gis.geos import GEOSGeometry
from django.db.models import Q


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    """Fewer vertices for display, without making polygons invalid; tolerance in the geometry's units."""

    function = "ST_SimplifyPreserveTopology"
    arity = 2


# Rows stored before the registry refused empty geometries (`POINT EMPTY`) are read as rows with
# no geometry: an empty point has no coordinates to draw, measure or route to.


def has_geometry(field: str = "location") -> Q:
    """Rows whose `field` holds a geometry that is not empty."""
    return Q(**{f"{field}__isnull": False}) & ~Q(IsEmpty(field))


def present(geometry: GEOSGeometry | None) -> GEOSGeometry | None:
    """The geometry, or None when it is missing or empty."""
    return None if geometry is None or geometry.empty else geometry
