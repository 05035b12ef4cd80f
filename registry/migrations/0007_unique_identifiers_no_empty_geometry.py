"""Unique national identifiers and no empty geometry (issue 17).

The constraints come after a check that refuses to go on while existing rows would break them: a
migration must not pick which of two devices keeps a code, nor drop a place. The message names the
codes and row ids, so a registrar can settle them and run the migration again.
"""

import django.contrib.gis.db.models.functions
import django.db.models.functions.text
from django.db import migrations, models

# As registry.models.identifiers words them (a migration keeps its own copy).
MESSAGES = {
    "registration_code": "注册代码已登记 / registration code already registered",
    "certificate_number": "使用登记证编号已登记 / certificate number already registered",
    "rescue_id": "96333救援识别码已登记 / 96333 rescue ID already registered",
}
SHOWN = 20  # codes named per identifier; the count says how many more

# Identifier → (table, the value kept unique, the rows it applies to).
UNIQUE = {
    "device_code": ("registry_equipment", "device_code", "device_code IS NOT NULL"),
    "registration_code": ("registry_equipment", "registration_code", "registration_code <> ''"),
    "certificate_number": ("registry_equipment", "certificate_number", "certificate_number <> ''"),
    "rescue_id (city:id)": (
        "registry_equipment",
        "left(region_id, 4) || ':' || rescue_id",
        "rescue_id <> ''",
    ),
    "unit credit_code": ("registry_unit", "credit_code", "credit_code IS NOT NULL"),
}
GEOMETRIES = {
    "registry_equipment": ("location", "route"),
    "registry_unit": ("location",),
    "registry_accident": ("location",),
    "registry_emergencyresource": ("location",),
}


class ConstraintWouldFail(RuntimeError):
    """Existing rows break a constraint this migration adds; they are named, nothing was changed."""


def existing_violations(cursor) -> list[str]:
    problems = []
    for name, (table, value, applies) in UNIQUE.items():
        # One hash aggregate per identifier: linear in the table, whatever its size.
        cursor.execute(
            f"""SELECT code, ids, count(*) OVER () FROM (
                    SELECT {value} AS code, array_agg(id ORDER BY id) AS ids FROM {table}
                    WHERE {applies} GROUP BY 1 HAVING count(*) > 1) d
                ORDER BY code LIMIT {SHOWN}"""
        )
        rows = cursor.fetchall()
        if rows:
            listed = "; ".join(f"{code} (ids {', '.join(map(str, ids))})" for code, ids, _ in rows)
            problems.append(f"{rows[0][2]} duplicate {name}: {listed}")
    for table, columns in GEOMETRIES.items():
        for column in columns:
            cursor.execute(
                f"SELECT id FROM {table} WHERE ST_IsEmpty({column}) ORDER BY id LIMIT {SHOWN}"
            )
            if ids := [row[0] for row in cursor.fetchall()]:
                problems.append(f"empty {table}.{column}: ids {', '.join(map(str, ids))}")
    return problems


def refuse_existing_violations(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        problems = existing_violations(cursor)
    if problems:
        raise ConstraintWouldFail(
            "存在重复代码或空几何，请先处理后再迁移 / settle these rows first, then migrate again:\n"
            + "\n".join(problems)
        )


def not_empty(field):
    return models.Q(
        (f"{field}__isnull", True),
        models.Q(django.contrib.gis.db.models.functions.IsEmpty(field), _negated=True),
        _connector="OR",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("geo", "0001_initial"),
        ("registry", "0006_import_job_kernel"),
    ]

    operations = [
        migrations.RunPython(refuse_existing_violations, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="accident",
            constraint=models.CheckConstraint(
                condition=not_empty("location"), name="accident_location_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="emergencyresource",
            constraint=models.CheckConstraint(
                condition=not_empty("location"), name="resource_location_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="equipment",
            constraint=models.CheckConstraint(
                condition=not_empty("location"), name="equipment_location_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="equipment",
            constraint=models.CheckConstraint(
                condition=not_empty("route"), name="equipment_route_not_empty"
            ),
        ),
        migrations.AddConstraint(
            model_name="equipment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("registration_code", ""), _negated=True),
                fields=("registration_code",),
                name="equipment_registration_code_unique",
                violation_error_message=MESSAGES["registration_code"],
            ),
        ),
        migrations.AddConstraint(
            model_name="equipment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("certificate_number", ""), _negated=True),
                fields=("certificate_number",),
                name="equipment_certificate_number_unique",
                violation_error_message=MESSAGES["certificate_number"],
            ),
        ),
        migrations.AddConstraint(
            model_name="equipment",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Left(models.F("region_id"), 4),
                models.F("rescue_id"),
                condition=models.Q(("rescue_id", ""), _negated=True),
                name="equipment_rescue_id_unique_in_city",
                violation_error_message=MESSAGES["rescue_id"],
            ),
        ),
        migrations.AddConstraint(
            model_name="unit",
            constraint=models.CheckConstraint(
                condition=not_empty("location"), name="unit_location_not_empty"
            ),
        ),
    ]
