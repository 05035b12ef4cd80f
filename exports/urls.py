"""/export/: the export page, its estimate, and the requester's jobs (exports.views)."""

from django.urls import path

from . import views as export_views

urlpatterns = [
    path("", export_views.export_page, name="export"),
    path("estimate", export_views.estimate, name="export-estimate"),
    path("jobs/<int:pk>/", export_views.export_job, name="export-job"),
    path("jobs/<int:pk>/download", export_views.export_download, name="export-download"),
]
