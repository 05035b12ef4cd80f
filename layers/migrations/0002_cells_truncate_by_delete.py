from django.db import migrations


class Migration(migrations.Migration):
    """The TRUNCATE trigger empties the cells with DELETE: Django's flush truncates both tables in
    one statement, and a nested TRUNCATE of the cells failed there. Since the history was frozen,
    0001 installs that trigger itself."""

    dependencies = [("layers", "0001_equipment_cells")]

    operations = []
