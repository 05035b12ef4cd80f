"""/api/analysis/: the desk's JSON API (included from config/urls.py)."""

from django.urls import include, path

from . import api, decision_api

app_name = "analysis-api"
urlpatterns = [
    path("indicators", api.Indicators.as_view(), name="indicators"),
    path("overview", api.Overview.as_view(), name="overview"),
    path("regions", api.Regions.as_view(), name="regions"),
    path("devices", api.Devices.as_view(), name="devices"),
    path("map", api.RegionMap.as_view(), name="map"),
    path("workload", decision_api.Workload.as_view(), name="workload"),
    path("coverage", decision_api.Coverage.as_view(), name="coverage"),
    path("risk", decision_api.Risk.as_view(), name="risk"),
    path("", include("analysis.accidents_api_urls")),
]
urlpatterns += [path("", include("analysis.evaluation_api_urls"))]  # 绩效评价 / evaluation
