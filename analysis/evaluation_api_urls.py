"""/api/analysis/evaluation…: 绩效评价 (included from analysis/api_urls.py, its namespace)."""

from django.urls import path

from . import evaluation_api

urlpatterns = [
    path("evaluation", evaluation_api.League.as_view(), name="evaluation"),
    path("evaluation/scheme", evaluation_api.Scheme.as_view(), name="evaluation-scheme"),
    path("evaluation/publish", evaluation_api.Publish.as_view(), name="evaluation-publish"),
    path("evaluation/dues", evaluation_api.Dues.as_view(), name="evaluation-dues"),
]
