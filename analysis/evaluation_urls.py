"""/analysis/evaluation/…: 绩效评价 pages (included from analysis/urls.py, its namespace)."""

from django.urls import path

from . import evaluation_views

urlpatterns = [
    path("evaluation/", evaluation_views.evaluation_page, name="evaluation"),
    path("evaluation/scheme", evaluation_views.scheme_page, name="evaluation-scheme"),
    path("evaluation/dues", evaluation_views.dues_page, name="evaluation-dues"),
    path("evaluation/download", evaluation_views.download, name="evaluation-download"),
]
