"""Patrol planning: candidates by risk, day routes per team, results per stop (issue 5)."""

from django.urls import path

from . import api, export_views, pages

app_name = "patrol"

urlpatterns = [
    path("", pages.plans_page, name="plans-page"),
    path("plans/<int:pk>/", pages.PlanPage.as_view(), name="plan-page"),
    path("plans/<int:pk>/routes.gpx", export_views.PlanGpx.as_view(), name="plan-gpx"),
    path("plans/<int:pk>/routes.geojson", export_views.PlanGeoJson.as_view(), name="plan-geojson"),
    path("routes/<int:pk>/sheet/", export_views.RouteSheet.as_view(), name="route-sheet"),
    path("api/plans/", api.Plans.as_view(), name="plans"),
    path("api/plans/<int:pk>/", api.PlanDetail.as_view(), name="plan"),
    path("api/candidates/<int:pk>/", api.CandidateDetail.as_view(), name="candidate"),
    path("api/plans/<int:pk>/routes/", api.PlanRoutes.as_view(), name="plan-routes"),
    path("api/plans/<int:pk>/reoptimise/", api.PlanReoptimise.as_view(), name="plan-reoptimise"),
    path("api/stops/<int:pk>/move/", api.StopMove.as_view(), name="stop-move"),
    path("api/stops/<int:pk>/result/", api.StopResult.as_view(), name="stop-result"),
    path("api/coverage/", api.Coverage.as_view(), name="coverage"),
]
