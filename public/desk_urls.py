"""The signed-in side of the public service: QR labels and the public's reports."""

from django.urls import path

from . import views

app_name = "public-desk"

urlpatterns = [
    path("labels/equipment/<int:pk>/", views.equipment_label, name="equipment-label"),
    path("labels/units/<int:pk>/", views.unit_labels, name="unit-labels"),
    path("reports/", views.report_list, name="reports"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/photo/", views.report_photo, name="report-photo"),
]
