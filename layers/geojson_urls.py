"""/api/geojson/: bbox-limited GeoJSON of the small layers (layers.geojson_views)."""

from django.urls import path

from . import geojson_views

app_name = "geojson"

# A plain str segment: an unknown layer reaches the view and gets a 400 naming it.
urlpatterns = [
    path("<str:layer>", geojson_views.layer, name="layer"),
]
