from django.db import migrations


class Migration(migrations.Migration):
    """The layers app keeps the catalogue and no tables: EquipmentCell went to maps and ExportJob
    to exports (their tables stay as they are)."""

    dependencies = [
        ("layers", "0005_export_jobs"),
        ("maps", "0001_initial"),
        ("exports", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="EquipmentCell"),
                migrations.DeleteModel(name="ExportJob"),
            ],
        ),
    ]
