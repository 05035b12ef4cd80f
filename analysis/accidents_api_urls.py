"""/api/analysis/accidents…: the accident analysis's JSON API (included from api_urls.py)."""

from django.urls import path

from . import accidents_api

urlpatterns = [
    path("accidents", accidents_api.Summary.as_view(), name="accidents"),
    path("accidents/list", accidents_api.Listing.as_view(), name="accidents-list"),
    path("accidents/hotspots", accidents_api.Hotspots.as_view(), name="accidents-hotspots"),
    path(
        "accidents/hotspots/map", accidents_api.HotspotMap.as_view(), name="accidents-hotspot-map"
    ),
]
