"""/analysis/: the desk's page and its downloads (the JSON API is in api_urls.py)."""

from django.urls import include, path

from . import decision_views, views

app_name = "analysis"
urlpatterns = [
    path("", views.desk_page, name="desk"),
    path("download", views.download, name="download"),
    # One page and one file per question, each a route of its own (no free path parameter).
    *(
        path(f"decisions/{q}", decision_views.question_page(q), name=f"decisions-{q}")
        for q in decision_views.QUESTIONS
    ),
    *(
        path(
            f"decisions/{q}/download",
            decision_views.question_download(q),
            name=f"decisions-{q}-download",
        )
        for q in decision_views.QUESTIONS
    ),
    path("report", decision_views.report_page, name="report"),
    path("report.xlsx", decision_views.report_xlsx, name="report-xlsx"),
    path("", include("analysis.accidents_urls")),
]
urlpatterns += [path("", include("analysis.evaluation_urls"))]  # 绩效评价 / evaluation
