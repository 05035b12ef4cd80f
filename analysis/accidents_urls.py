"""/analysis/accidents/: the accident analysis page and its downloads (included from urls.py)."""

from django.urls import path

from . import accidents_views

urlpatterns = [
    path("accidents/", accidents_views.accidents_page, name="accidents"),
    path("accidents/download", accidents_views.accidents_download, name="accidents-download"),
]
