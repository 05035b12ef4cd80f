"""/ogcapi: OGC API - Features (ogcapi.views). No trailing slashes below the landing page: GDAL
appends `/collections` to the URL it is given."""

from django.urls import path

from . import views as ogcapi_views

app_name = "ogcapi"

# Plain str segments: an unknown collection reaches the view and gets a 400 naming it, a malformed
# feature id a 404 like a missing one.
urlpatterns = [
    path("", ogcapi_views.landing, name="landing"),
    path("api", ogcapi_views.api, name="api"),
    path("conformance", ogcapi_views.conformance, name="conformance"),
    path("collections", ogcapi_views.collections, name="collections"),
    path("collections/<str:layer>", ogcapi_views.collection, name="collection"),
    path("collections/<str:layer>/schema", ogcapi_views.schema, name="schema"),
    path("collections/<str:layer>/items", ogcapi_views.items, name="items"),
    path("collections/<str:layer>/items/<str:pk>", ogcapi_views.item, name="item"),
]

# The landing page without its slash too, mounted at "ogcapi" (config/urls.py): QGIS 3.22 does not
# follow the 301 that APPEND_SLASH would give the documented URL.
unslashed = ([path("", ogcapi_views.landing, name="service")], "ogcapi-unslashed")
