"""/imports/: the import pages (registry.importers.pages); their API is under /api/imports/."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.imports_page, name="imports"),
    path("<int:pk>/", pages.import_job_page, name="import-page"),
]
