from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("监督检验")

    def ready(self) -> None:
        # The import pipeline lives in the registry, below this app: its dataset is added here.
        from registry.exchange import changelog

        from .imports import register
        from .models import SupervisoryInspection

        register()
        # The exchange log lives in the registry too: supervisory inspections travel like the
        # registry's inspections, under their device's division code.
        changelog.register(
            changelog.Exchanged(
                "supervisoryinspection", SupervisoryInspection, "e.region_id",
                changelog.EQUIPMENT_JOIN,
            )
        )  # fmt: skip
