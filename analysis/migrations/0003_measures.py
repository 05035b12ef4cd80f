"""The precomputed measures per county and year, the daily overdue snapshots, and the triggers that
mark a county stale when a registry row behind its figures changes (analysis/precomputed.py).

Statement-level triggers with transition tables, as the tile cells' (layers 0001): they see every
write path (services, admin, imports, the generator's COPY) and only note the county; the
refresh recomputes it. Every county with data is marked stale here, so the first
`refresh_measures` after this migration fills the table."""

from django.db import migrations, models

# Changed rows -> the counties they belong to (by their own region, or their device's).
MARK = "INSERT INTO analysis_stalecounty (county, marked_at) SELECT DISTINCT {county}, now() FROM {rows} {join} WHERE {county} IS NOT NULL ON CONFLICT (county) DO NOTHING;"
SOURCES = {
    # table: (the county of a row, the join that finds it)
    "registry_equipment": ("r.region_id", ""),
    "registry_accident": ("r.region_id", ""),
    "registry_lifecycleevent": (
        "e.region_id",
        "JOIN registry_equipment e ON e.id = r.equipment_id",
    ),
    "registry_inspection": ("e.region_id", "JOIN registry_equipment e ON e.id = r.equipment_id"),
    "inspections_supervisoryinspection": (
        "e.region_id",
        "JOIN registry_equipment e ON e.id = r.equipment_id",
    ),
    # An action recorded on an unlicensed-activity finding (the finding's own region). A licence's
    # change can turn findings of any county: the nightly refresh counts those.
    "licensing_findingaction": ("r.region_id", ""),
}


def _function(table: str) -> str:
    county, join = SOURCES[table]
    new = MARK.format(county=county, rows="new_rows r", join=join)
    old = MARK.format(county=county, rows="old_rows r", join=join)
    return f"""
CREATE OR REPLACE FUNCTION analysis_mark_{table}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN {new} END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN {old} END IF;
    RETURN NULL;
END $body$;
CREATE OR REPLACE FUNCTION analysis_mark_{table}_truncate() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO analysis_stalecounty (county, marked_at)
    SELECT county, now() FROM analysis_countymeasurestate ON CONFLICT (county) DO NOTHING;
    RETURN NULL;
END $body$;
CREATE TRIGGER analysis_mark_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analysis_mark_{table}();
CREATE TRIGGER analysis_mark_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analysis_mark_{table}();
CREATE TRIGGER analysis_mark_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analysis_mark_{table}();
CREATE TRIGGER analysis_mark_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION analysis_mark_{table}_truncate();
"""


TRIGGERS = "".join(_function(table) for table in SOURCES)
REVERSE = "".join(
    f"DROP TRIGGER IF EXISTS analysis_mark_{op} ON {table};"
    for table in SOURCES
    for op in ("insert", "update", "delete", "truncate")
) + "".join(
    f"DROP FUNCTION IF EXISTS analysis_mark_{table}(); "
    f"DROP FUNCTION IF EXISTS analysis_mark_{table}_truncate();"
    for table in SOURCES
)
MARK_ALL = """
INSERT INTO analysis_stalecounty (county, marked_at)
SELECT region_id, now() FROM registry_equipment WHERE region_id IS NOT NULL
UNION SELECT region_id, now() FROM registry_accident WHERE region_id IS NOT NULL
ON CONFLICT (county) DO NOTHING;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0002_evaluation_default_scheme"),
        ("registry", "0012_accident_place_type"),
        ("inspections", "0001_initial"),
        ("licensing", "0003_finding_action"),
    ]

    operations = [
        migrations.CreateModel(
            name="CountyDaySnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("county", models.CharField(max_length=6)),
                ("day", models.DateField()),
                ("in_use", models.IntegerField(default=0)),
                ("overdue", models.IntegerField(default=0)),
                ("use_registration_required", models.IntegerField(default=0)),
                ("use_registered", models.IntegerField(default=0)),
                ("taken_at", models.DateTimeField()),
                ("derived", models.BooleanField(default=False)),
            ],
            options={
                "verbose_name": "区县超期未检日快照",
                "indexes": [
                    models.Index(
                        fields=["county", "day"],
                        name="county_snapshot_prefix",
                        opclasses=["varchar_pattern_ops", "date_ops"],
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("county", "day"), name="county_day_snapshot_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CountyMeasureState",
            fields=[
                ("county", models.CharField(max_length=6, primary_key=True, serialize=False)),
                ("as_of", models.DateField()),
                ("computed_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "区县统计刷新状态",
                "indexes": [
                    models.Index(
                        fields=["county"],
                        name="county_state_prefix",
                        opclasses=["varchar_pattern_ops"],
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CountyYearMeasure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("county", models.CharField(max_length=6)),
                ("year", models.PositiveSmallIntegerField()),
                ("registered", models.IntegerField(default=0)),
                ("in_use", models.IntegerField(default=0)),
                ("registrations", models.IntegerField(default=0)),
                ("cancellations", models.IntegerField(default=0)),
                ("due", models.IntegerField(default=0)),
                ("inspected_on_time", models.IntegerField(default=0)),
                ("accidents", models.IntegerField(default=0)),
                ("deaths", models.IntegerField(default=0)),
                ("injuries", models.IntegerField(default=0)),
                ("supervision_required", models.IntegerField(default=0)),
                ("supervised", models.IntegerField(default=0)),
                ("unlicensed", models.IntegerField(default=0)),
                ("unlicensed_acted", models.IntegerField(default=0)),
            ],
            options={
                "verbose_name": "区县年度统计量",
                "indexes": [
                    models.Index(
                        fields=["county"],
                        name="county_measure_prefix",
                        opclasses=["varchar_pattern_ops"],
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("county", "year"), name="county_year_measure_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StaleCounty",
            fields=[
                ("county", models.CharField(max_length=6, primary_key=True, serialize=False)),
                ("marked_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "待刷新区县",
                "indexes": [
                    models.Index(
                        fields=["county"],
                        name="stale_county_prefix",
                        opclasses=["varchar_pattern_ops"],
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CountyKindCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("county", models.CharField(max_length=6)),
                ("kind", models.CharField(max_length=4)),
                ("status", models.CharField(max_length=16)),
                ("devices", models.IntegerField(default=0)),
            ],
            options={
                "verbose_name": "区县分类设备数",
                "indexes": [
                    models.Index(
                        fields=["county"],
                        name="county_kind_prefix",
                        opclasses=["varchar_pattern_ops"],
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("county", "kind", "status"), name="county_kind_count_once"
                    )
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS, REVERSE),
        migrations.RunSQL(MARK_ALL, migrations.RunSQL.noop),
    ]
