from django.urls import path

from . import pages

app_name = "licensing"

urlpatterns = [
    path("", pages.index, name="index"),
    path("findings/", pages.findings_page, name="findings"),
    path("findings/act/", pages.act_on_finding, name="finding-act"),
    path("licences/<int:pk>/", pages.licence_page, name="licence"),
    path("licences/<int:pk>/status/", pages.licence_status, name="licence-status"),
    path("applications/new/", pages.new_application, name="new"),
    path("applications/<int:pk>/", pages.application_page, name="application"),
    path("applications/<int:pk>/amend/", pages.amend_application, name="amend"),
    path("applications/<int:pk>/decide/", pages.decide_application, name="decide"),
]
