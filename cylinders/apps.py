from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CylindersConfig(AppConfig):
    name = "cylinders"
    verbose_name = _("气瓶")

    def ready(self) -> None:
        # The import pipeline lives in the registry, below this app: its datasets are added here.
        from licensing import findings

        from .imports import register
        from .reads import unlicensed_filling

        register()
        # Filling without a licence is one of licensing's unlicensed activities (无证充装).
        findings.register_finder(unlicensed_filling)
