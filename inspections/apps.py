from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("监督检验")

    def ready(self) -> None:
        # The import pipeline lives in the registry, below this app: its dataset is added here.
        from .imports import register

        register()
