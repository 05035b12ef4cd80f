from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tiles/", include("layers.tile_urls")),
    path("api/geojson/", include("layers.geojson_urls")),
    path("map/", include("layers.map_urls")),
    path("export/", include("layers.export_urls")),
    path("ogcapi/", include("layers.ogcapi_urls")),
    path("", include("layers.detail_urls")),
]
