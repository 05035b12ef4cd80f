from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("特种设备数据库")

    def ready(self) -> None:
        from accounts import audit
        from geo.scoping import ROW_SECURED

        from .personal import PERSONAL_FIELDS
        from .reference import sync_reference_data

        audit.PERSONAL_MASKS.update(PERSONAL_FIELDS)
        # The tables migration 0010 puts under row-level security.
        ROW_SECURED.update({"registry_person", "registry_certificate"})

        # The catalogue and the interval rules are data kept in files; every migrate brings the tables in line.
        post_migrate.connect(sync_reference_data, sender=self)
