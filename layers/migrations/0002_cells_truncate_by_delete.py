from django.db import migrations

from layers import cells


def install(apps, schema_editor):
    for statement in cells.install_sql():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    """The TRUNCATE trigger empties the cells with DELETE: Django's flush truncates both tables in
    one statement, and a nested TRUNCATE of the cells failed there."""

    dependencies = [("layers", "0001_equipment_cells")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
