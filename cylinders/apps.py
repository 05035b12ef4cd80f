from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CylindersConfig(AppConfig):
    name = "cylinders"
    verbose_name = _("气瓶")

    def ready(self) -> None:
        # The import pipeline lives in the registry, below this app: its datasets are added here.
        from .imports import register

        register()
