"""/analysis/: the desk's page and its downloads (the JSON API is in api_urls.py)."""

from django.urls import include, path

from . import views

app_name = "analysis"
urlpatterns = [
    path("", views.desk_page, name="desk"),
    path("download", views.download, name="download"),
    path("", include("analysis.accidents_urls")),
]
