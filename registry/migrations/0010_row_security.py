# Row-level security on the personnel register: a second wall behind `visible_to` for the
# application's role (the owner, which migrates, is not subject to it). geo/scoping.py sets the
# reader's jurisdiction per statement (`reading`); unset, nothing is read.

from django.db import migrations

READS = """
CREATE OR REPLACE FUNCTION segis_reads(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('segis.scope', true), '') LIKE 'p:%'
       AND (current_setting('segis.scope', true) = 'p:'
            OR starts_with(code, substr(current_setting('segis.scope', true), 3)))
$$
"""
# Registering and importing ask whether a national ID or a certificate number is someone else's
# anywhere: the answer is only yes or no, so it runs as the owner, past the wall.
ID_TAKEN = """
CREATE OR REPLACE FUNCTION registry_national_id_taken(id_hash text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (SELECT 1 FROM public.registry_person p WHERE p.national_id_hash = $1)
$$
"""
HELD_ELSEWHERE = """
CREATE OR REPLACE FUNCTION registry_certificate_held_elsewhere(number text, holder bigint)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (SELECT 1 FROM public.registry_certificate c
                   WHERE c.number = $1 AND c.person_id IS DISTINCT FROM $2)
$$
"""
# Definer functions run as the owner: an empty search_path (nothing, not even a session's
# temporary schema, can stand in for the tables they name), and only the application's role may
# call them (common.db.grant_app_role), not every role.
PRIVATE = [
    "REVOKE EXECUTE ON FUNCTION registry_national_id_taken(text) FROM PUBLIC",
    "REVOKE EXECUTE ON FUNCTION registry_certificate_held_elsewhere(text, bigint) FROM PUBLIC",
]
POLICIES = [
    "ALTER TABLE registry_person ENABLE ROW LEVEL SECURITY",
    # Read: the jurisdiction's people, the staff of its units, the inspectors of its devices
    # (an inspection body's staff often sit in the city or the province).
    """CREATE POLICY person_read ON registry_person FOR SELECT USING (
        segis_reads(region_id)
        OR EXISTS (SELECT 1 FROM registry_unit u
                   WHERE u.id = registry_person.employer_id AND segis_reads(u.region_id))
        OR EXISTS (SELECT 1 FROM registry_inspection i
                   JOIN registry_equipment e ON e.id = i.equipment_id
                   WHERE i.inspector_id = registry_person.id AND segis_reads(e.region_id)))""",
    # Write: the jurisdiction's own people only.
    """CREATE POLICY person_own ON registry_person FOR ALL
        USING (segis_reads(region_id)) WITH CHECK (segis_reads(region_id))""",
    "ALTER TABLE registry_certificate ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY certificate_read ON registry_certificate FOR SELECT USING (
        EXISTS (SELECT 1 FROM registry_person p WHERE p.id = registry_certificate.person_id))""",
    """CREATE POLICY certificate_own ON registry_certificate FOR ALL
        USING (EXISTS (SELECT 1 FROM registry_person p
                       WHERE p.id = registry_certificate.person_id AND segis_reads(p.region_id)))
        WITH CHECK (EXISTS (SELECT 1 FROM registry_person p
                            WHERE p.id = registry_certificate.person_id
                              AND segis_reads(p.region_id)))""",
]
UNDO = [
    "DROP POLICY IF EXISTS certificate_own ON registry_certificate",
    "DROP POLICY IF EXISTS certificate_read ON registry_certificate",
    "ALTER TABLE registry_certificate DISABLE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS person_own ON registry_person",
    "DROP POLICY IF EXISTS person_read ON registry_person",
    "ALTER TABLE registry_person DISABLE ROW LEVEL SECURITY",
    "DROP FUNCTION IF EXISTS registry_certificate_held_elsewhere(text, bigint)",
    "DROP FUNCTION IF EXISTS registry_national_id_taken(text)",
    "DROP FUNCTION IF EXISTS segis_reads(text)",
]


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_record_versions")]

    operations = [
        migrations.RunSQL([READS, ID_TAKEN, HELD_ELSEWHERE, *PRIVATE, *POLICIES], reverse_sql=UNDO),
    ]
