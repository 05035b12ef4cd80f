from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Django warns (gis.W001) that GDAL before 3.9 cannot be told to refuse file and network access
# while parsing a spatial reference. SEGIS never hands GDAL a user's string as a path, URL or SRS
# definition (docs/security.md), so on such a GDAL (Debian 12's 3.6) the warning is silenced;
# on 3.9 and later (Debian 13's 3.10) there is nothing to silence.
GDAL_BLOCKS_ACCESS = (3, 9)


class GeoConfig(AppConfig):
    name = "geo"
    verbose_name = _("地理")

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib.gis.gdal import GDAL_VERSION

        if GDAL_VERSION < GDAL_BLOCKS_ACCESS and "gis.W001" not in settings.SILENCED_SYSTEM_CHECKS:
            settings.SILENCED_SYSTEM_CHECKS = [*settings.SILENCED_SYSTEM_CHECKS, "gis.W001"]
