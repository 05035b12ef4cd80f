"""The root URL conf with the account pages (accounts.urls) included, as config/urls.py should."""

from django.urls import include, path

from config.urls import urlpatterns as root

urlpatterns = [*root, path("accounts/", include("accounts.urls"))]
