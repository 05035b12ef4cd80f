from django.db import migrations


class Migration(migrations.Migration):
    """Cells at every level 3-14: with only 5, 8, 11 and 14 a zoom-6 tile summed 16 times its
    cells. Since the history was frozen, 0001 installs and counts every level itself."""

    dependencies = [("layers", "0002_cells_truncate_by_delete")]

    operations = []
