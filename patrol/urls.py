"""Patrol planning: candidates by risk, day routes per team, results per stop (issue 5)."""

from django.urls import path

from . import api

app_name = "patrol"

urlpatterns = [
    path("api/plans/", api.Plans.as_view(), name="plans"),
    path("api/plans/<int:pk>/", api.PlanDetail.as_view(), name="plan"),
    path("api/candidates/<int:pk>/", api.CandidateDetail.as_view(), name="candidate"),
    path("api/plans/<int:pk>/routes/", api.PlanRoutes.as_view(), name="plan-routes"),
    path("api/plans/<int:pk>/reoptimise/", api.PlanReoptimise.as_view(), name="plan-reoptimise"),
    path("api/stops/<int:pk>/move/", api.StopMove.as_view(), name="stop-move"),
    path("api/stops/<int:pk>/result/", api.StopResult.as_view(), name="stop-result"),
]
