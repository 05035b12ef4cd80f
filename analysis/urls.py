"""/analysis/: the desk's page and its downloads (the JSON API is in api_urls.py)."""

from django.urls import path

from . import decision_views, views

app_name = "analysis"
urlpatterns = [
    path("", views.desk_page, name="desk"),
    path("download", views.download, name="download"),
    path("decisions/<str:question>", decision_views.decisions_page, name="decisions"),
    path(
        "decisions/<str:question>/download",
        decision_views.decisions_download,
        name="decisions-download",
    ),
    path("report", decision_views.report_page, name="report"),
    path("report.xlsx", decision_views.report_xlsx, name="report-xlsx"),
]
