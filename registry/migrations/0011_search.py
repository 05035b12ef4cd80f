# Search as people type (registry/search.py): one trigram index per table over one search text
# (codes, address, and a unit's name), so part of any of them is found through an index. The
# expressions are written out here (migrations never import live modules) and must equal
# registry.search.SEARCH_TEXT: tests/registry/test_search.py compares them with the database's.
# The unit's name-only index is replaced by the unit's search text, which holds the name.

from django.db import migrations

EQUIPMENT = (
    "upper(coalesce(device_code, '') || ' ' || registration_code || ' ' || "
    "certificate_number || ' ' || rescue_id || ' ' || address)"
)
UNIT = "upper(name || ' ' || credit_code || ' ' || address)"


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_row_security")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX registry_equipment_search_trgm ON registry_equipment "
            f"USING gin (({EQUIPMENT}) gin_trgm_ops)",
            "DROP INDEX registry_equipment_search_trgm",
        ),
        migrations.RunSQL(
            f"CREATE INDEX registry_unit_search_trgm ON registry_unit USING gin (({UNIT}) gin_trgm_ops)",
            "DROP INDEX registry_unit_search_trgm",
        ),
        migrations.RemoveIndex(model_name="unit", name="unit_name_trigram"),
    ]
