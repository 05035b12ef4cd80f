from django.db import migrations, models


class Migration(migrations.Migration):
    """EquipmentCell moves from the layers app: its table and triggers stay, only Django's record
    of it moves."""

    initial = True

    dependencies = [("layers", "0005_export_jobs")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EquipmentCell",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "level",
                            models.PositiveSmallIntegerField(verbose_name="网格级别"),
                        ),
                        (
                            "depth",
                            models.PositiveSmallIntegerField(verbose_name="区划代码位数"),
                        ),
                        (
                            "region",
                            models.CharField(max_length=6, verbose_name="区划代码前缀"),
                        ),
                        ("gx", models.IntegerField()),
                        ("gy", models.IntegerField()),
                        (
                            "variety_id",
                            models.CharField(max_length=4, verbose_name="设备品种"),
                        ),
                        ("kind", models.CharField(max_length=4, verbose_name="设备种类")),
                        (
                            "status",
                            models.CharField(max_length=12, verbose_name="设备状态"),
                        ),
                        ("n", models.IntegerField(verbose_name="设备数")),
                        ("sx", models.FloatField(help_text="sum of longitudes")),
                        ("sy", models.FloatField(help_text="sum of latitudes")),
                    ],
                    options={
                        "verbose_name": "网格计数",
                        "db_table": "layers_equipmentcell",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=(
                                    "level",
                                    "depth",
                                    "region",
                                    "gx",
                                    "gy",
                                    "variety_id",
                                    "kind",
                                    "status",
                                ),
                                name="equipmentcell_key",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
