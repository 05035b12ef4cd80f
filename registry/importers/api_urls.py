"""/api/imports/: upload, map, dry run, report, commit (registry.importers.views)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.ImportJobList.as_view(), name="import-jobs"),
    path("<int:pk>/", views.ImportJobDetail.as_view(), name="import-job"),
    path("<int:pk>/mapping/", views.ImportJobMapping.as_view(), name="import-mapping"),
    path("<int:pk>/validate/", views.ImportJobValidate.as_view(), name="import-validate"),
    path("<int:pk>/commit/", views.ImportJobCommit.as_view(), name="import-commit"),
    path("<int:pk>/findings/", views.ImportJobFindings.as_view(), name="import-findings"),
    path("<int:pk>/report.csv", views.ImportJobReportCsv.as_view(), name="import-report-csv"),
    path("<int:pk>/report.xlsx", views.ImportJobReportXlsx.as_view(), name="import-report-xlsx"),
]
