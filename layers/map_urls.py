from django.urls import path

from . import map_views

urlpatterns = [
    path("", map_views.map_page, name="map"),
    path("basemap.geojson", map_views.basemap, name="map-basemap"),
    path("regions.geojson", map_views.regions, name="map-regions"),
]
