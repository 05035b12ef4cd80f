# Part of a text, read first through the jurisdiction's rows (registry.search: `_holding`): one
# B-tree per table on the division code, in the order a scope's range reads it, with every field
# the search compares included, so that the scan is index-only — its cost is the rows of the
# jurisdiction it reads, not how many rows nationally hold the text's trigrams. The included
# columns must cover registry.search.FIELDS (and the primary key): tests/registry/test_search.py
# fails when the planner has to read the table instead.

from django.db import migrations

EQUIPMENT = "id, device_code, registration_code, certificate_number, rescue_id, address"
UNIT = "id, name, credit_code, address"


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_accident_place_type")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX registry_equipment_search_scan ON registry_equipment "
            f"(region_id varchar_pattern_ops) INCLUDE ({EQUIPMENT})",
            "DROP INDEX registry_equipment_search_scan",
        ),
        migrations.RunSQL(
            "CREATE INDEX registry_unit_search_scan ON registry_unit "
            f"(region_id varchar_pattern_ops) INCLUDE ({UNIT})",
            "DROP INDEX registry_unit_search_scan",
        ),
    ]
