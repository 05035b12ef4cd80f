"""/tiles/: vector tiles, counts and the layer catalogue (layers.tile_views)."""

from django.urls import path

from . import tile_views

app_name = "tiles"

# Plain str segments: a malformed layer, zoom or tile number reaches the view and gets a 400 naming it.
urlpatterns = [
    path("layers.json", tile_views.layers, name="layers"),
    path("pass", tile_views.renew_pass, name="pass"),
    path("<str:layer>/count", tile_views.count, name="count"),
    path("<str:layer>/<str:z>/<str:x>/<str:y>.pbf", tile_views.tile, name="tile"),
]
