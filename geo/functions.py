"""PostGIS functions the ORM has no word for."""

from django.contrib.gis.db.models.functions import GeomOutputGeoFunc


class SimplifyPreserveTopology(GeomOutputGeoFunc):
    """Fewer vertices for display, without making polygons invalid; tolerance in the geometry's units."""

    function = "ST_SimplifyPreserveTopology"
    arity = 2
