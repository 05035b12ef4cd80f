"""What the map keeps besides the registry: equipment counted per tile grid cell (maps.cells)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EquipmentCell(models.Model):
    """Devices of one grid cell, region prefix, variety and status; maintained by maps.cells."""

    level = models.PositiveSmallIntegerField(_("网格级别"))
    depth = models.PositiveSmallIntegerField(_("区划代码位数"))
    region = models.CharField(_("区划代码前缀"), max_length=6)
    gx = models.IntegerField()
    gy = models.IntegerField()
    # Not foreign keys: derived rows, written by a trigger; a code is what a filter compares.
    variety_id = models.CharField(_("设备品种"), max_length=4)
    kind = models.CharField(_("设备种类"), max_length=4)
    status = models.CharField(_("设备状态"), max_length=12)
    n = models.IntegerField(_("设备数"))
    sx = models.FloatField(help_text="sum of longitudes")
    sy = models.FloatField(help_text="sum of latitudes")

    class Meta:
        verbose_name = _("网格计数")
        # Created by the layers app before maps existed; the cell triggers write this name.
        db_table = "layers_equipmentcell"
        constraints = [
            # The upsert key and the tile read's index: equality on level, depth and region
            # (a range for a 3- or 5-digit prefix), then a range on gx.
            models.UniqueConstraint(
                fields=["level", "depth", "region", "gx", "gy", "variety_id", "kind", "status"],
                name="equipmentcell_key",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"L{self.level} ({self.gx}, {self.gy}) {self.region or '*'} {self.variety_id}: {self.n}"
        )
