from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OgcapiConfig(AppConfig):
    name = "ogcapi"
    verbose_name = _("OGC API - Features")
