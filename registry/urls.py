from django.urls import path

from . import pages as detail_views

urlpatterns = [
    path("equipment/<int:pk>/", detail_views.equipment_detail, name="equipment-page"),
    path("units/<int:pk>/", detail_views.unit_detail, name="unit-page"),
    path("accidents/<int:pk>/", detail_views.accident_detail, name="accident-page"),
    path("resources/<int:pk>/", detail_views.resource_detail, name="resource-page"),
]
