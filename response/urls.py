"""Emergency response: incidents, locating, what is around (issue 4)."""

from django.urls import path

from . import api, incident_api, pages, sheet_views, statistics_views

app_name = "response"

urlpatterns = [
    path("", pages.console, name="console"),
    path("incidents/<int:pk>/sheet/", sheet_views.IncidentSheet.as_view(), name="incident-sheet"),
    path("statistics/", statistics_views.StatisticsPage.as_view(), name="statistics"),
    path("api/statistics/", statistics_views.Statistics.as_view(), name="statistics-api"),
    path("api/locate/", api.Locate.as_view(), name="locate"),
    path("api/around/", api.Around.as_view(), name="around"),
    path("api/around/resources/", api.AroundResources.as_view(), name="around-resources"),
    path("api/around/equipment/", api.AroundEquipment.as_view(), name="around-equipment"),
    path("api/equipment/<int:pk>/", api.EquipmentCard.as_view(), name="equipment-card"),
    path("api/resources/<int:pk>/contact/", api.ResourceContact.as_view(), name="resource-contact"),
    path("api/incidents/", incident_api.Incidents.as_view(), name="incidents"),
    path("api/incidents/<int:pk>/", incident_api.IncidentDetail.as_view(), name="incident"),
    path(
        "api/incidents/<int:pk>/transition/",
        incident_api.IncidentTransition.as_view(),
        name="incident-transition",
    ),
    path(
        "api/incidents/<int:pk>/events/",
        incident_api.IncidentEvents.as_view(),
        name="incident-events",
    ),
    path(
        "api/incidents/<int:pk>/dispatch/",
        incident_api.IncidentDispatch.as_view(),
        name="incident-dispatch",
    ),
    path(
        "api/incidents/<int:pk>/grants/",
        incident_api.IncidentGrants.as_view(),
        name="incident-grants",
    ),
    path("api/grants/<int:pk>/revoke/", incident_api.GrantRevoke.as_view(), name="grant-revoke"),
    path(
        "api/incidents/<int:pk>/accident/",
        incident_api.IncidentAccident.as_view(),
        name="incident-accident",
    ),
    # Flat, not under the incident: the ask's id is enough, and scoping reads it through its incident.
    path(
        "api/dispatches/<int:pk>/respond/",
        incident_api.DispatchAnswerView.as_view(),
        name="dispatch-respond",
    ),
    path(
        "api/dispatches/<int:pk>/cancel/",
        incident_api.DispatchCancel.as_view(),
        name="dispatch-cancel",
    ),
]
