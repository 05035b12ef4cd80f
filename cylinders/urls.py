from django.urls import path
from django.views.generic import RedirectView

from . import api, pages

app_name = "cylinders"

urlpatterns = [
    path("", pages.index, name="index"),
    path("<int:pk>/", pages.chain_page, name="chain"),
    path("stations/<int:pk>/", pages.station_page, name="station"),
    path("stations/<int:pk>/seen/", pages.station_seen_page, name="station_seen"),
    path("stations/<int:pk>/fillings/", pages.station_fillings_page, name="station_fillings"),
    path("stations/<int:pk>/overdue/", pages.station_overdue_page, name="station_overdue"),
    path("stations/<int:pk>/keys/", pages.station_keys_page, name="station_keys"),
    path("stations/<int:pk>/violations/", pages.station_violations_page, name="station_violations"),
    # The public status moved into the public space (/p/: no session, its limit, its CSP).
    path(
        "public/",
        RedirectView.as_view(pattern_name="public:cylinder", query_string=True),
        name="public",
    ),
    path("api/fillings/", api.FillingBatch.as_view(), name="fillings"),
    path("api/lookup/", api.CylinderLookup.as_view(), name="lookup"),
]
