"""One person per national ID (issue 17), after a check that names the rows holding one twice."""

from django.db import migrations, models


class ConstraintWouldFail(RuntimeError):
    """Existing rows break the constraint this migration adds; they are named, nothing was changed."""


def refuse_existing_duplicates(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        # The hash, not the ID: the message must not carry personal data.
        cursor.execute(
            """SELECT array_agg(id ORDER BY id) FROM registry_person WHERE national_id_hash <> ''
               GROUP BY national_id_hash HAVING count(*) > 1 ORDER BY min(id) LIMIT 20"""
        )
        groups = [ids for (ids,) in cursor.fetchall()]
    if groups:
        raise ConstraintWouldFail(
            "同一身份证号登记了多人，请先合并 / one national ID on several persons; merge them, "
            "then migrate again: " + "; ".join(f"ids {', '.join(map(str, g))}" for g in groups)
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_unique_identifiers_no_empty_geometry")]

    operations = [
        migrations.RunPython(refuse_existing_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="person",
            constraint=models.UniqueConstraint(
                condition=models.Q(("national_id_hash", ""), _negated=True),
                fields=("national_id_hash",),
                name="person_national_id_unique",
                violation_error_message="身份证号已登记 / national ID already registered",
            ),
        ),
    ]
