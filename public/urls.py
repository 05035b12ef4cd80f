"""The public space: no login, no session (public/middleware.py), mounted at PUBLIC_PATH_PREFIX."""

from django.urls import path

from . import views

app_name = "public"

urlpatterns = [
    path("", views.find, name="find"),
    # Before the token route: "cylinder" is no token (tokens are 43 characters of base64).
    path("cylinder/", views.cylinder, name="cylinder"),
    path("<str:token>/", views.device, name="device"),
    path("<str:token>/report/", views.report, name="report"),
    path("<str:token>/report/done/", views.report_done, name="report-done"),
]
