"""/accounts/token/: the API token page (accounts.token_views)."""

from django.urls import path

from . import token_views

urlpatterns = [
    path("", token_views.api_token, name="api-token"),
]
