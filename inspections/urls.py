from django.urls import path

from . import api, pages

app_name = "inspections"

urlpatterns = [
    path("", pages.index, name="index"),
    path("manufacturing/", pages.manufacturing, name="manufacturing"),
    path("bodies/<int:pk>/", pages.body_page, name="body"),
    path("api/feed/", api.FeedBatchView.as_view(), name="feed"),
]
