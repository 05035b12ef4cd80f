"""PostGIS functions the ORM has no word for."""

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import GeoFunc


class SimplifyPreserveTopology(GeoFunc):
    """Fewer vertices for display, without making polygons invalid; tolerance in the geometry's units."""

    function = "ST_SimplifyPreserveTopology"
    output_field = GeometryField(srid=4326)
