"""The map's pages and data: home, /map/, /tiles/ and /api/geojson/ (included at the root)."""

from django.urls import include, path

from . import api, views

# Plain str segments: a malformed layer, zoom or tile number reaches the view and gets a 400 naming it.
tile_patterns = (
    [
        path("layers.json", api.layers, name="layers"),
        path("pass", api.renew_pass, name="pass"),
        path("<str:layer>/count", api.count, name="count"),
        path("<str:layer>/<str:z>/<str:x>/<str:y>.pbf", api.tile, name="tile"),
    ],
    "tiles",
)
geojson_patterns = ([path("<str:layer>", api.geojson_layer, name="layer")], "geojson")

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.map_page, name="map"),
    path("map/list/<str:layer>/", views.layer_list, name="map-list"),
    path("map/basemap.geojson", views.basemap, name="map-basemap"),
    path("map/regions.geojson", views.regions, name="map-regions"),
    path("map/basemap.pmtiles", views.basemap_archive, name="map-basemap-archive"),
    path("tiles/", include(tile_patterns)),
    path("api/geojson/", include(geojson_patterns)),
]
