"""Patrol planning: candidates by risk, day routes per team, results per stop (issue 5)."""

app_name = "patrol"

urlpatterns: list = []
