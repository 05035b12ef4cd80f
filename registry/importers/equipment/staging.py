"""Equipment rows staged by COPY and worked on set-wise in PostGIS: placement, matching, units,
near-duplicates, changes, and the commit's writes."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import IntegrityError, transaction

from accounts.models import User
from geo import crs

from ...exchange import changelog
from ...models import Equipment, LifecycleEvent, Unit
from ...models.equipment import LifecycleEventKind
from ...models.identifiers import already_registered, taken_identifier
from ...services import rules
from ...services.rules import ALLOWED_STATUS_CHANGES, STATUS_EVENTS
from ...validators import ERROR, WARNING
from ..pipeline import ImportOutcome, ImportRequest, RowFinding

STAGE = "import_equipment_stage"
COMMIT_LOCK = "registry.import_equipment.commit"
# Within this distance, with the same variety, use unit and address, two records are one device
# entered twice unless each has its own device code.
NEAR_METRES = 5.0
NEAR_DEGREES = 0.0001  # index prefilter, > 5 m everywhere in China

STAGED = (
    ("row", "integer"),
    ("device_code", "text"),
    ("registration_code", "text"),
    ("certificate_number", "text"),
    ("rescue_id", "text"),
    ("variety_id", "text"),
    ("kind", "text"),
    ("status", "text"),
    ("location", "geometry(Point, 4326)"),
    ("address", "text"),
    ("declared_region_code", "text"),
    ("use_unit_credit_code", "text"),
    ("use_unit_name", "text"),
    ("maintenance_unit_credit_code", "text"),
    ("maintenance_unit_name", "text"),
    ("manufactured_on", "date"),
    ("commissioned_on", "date"),
    ("next_inspection_due", "date"),
    # A new device's, by the services' rules (services/rules.py), worked out per row in Python.
    ("registration_due", "date"),
    ("registered_on", "date"),
    ("registration_details", "jsonb"),
)
# Worked out in SQL after the COPY.
DERIVED = (
    ("region_id", "text"),
    ("existing_id", "bigint"),
    ("existing_region", "text"),
    ("existing_variety", "text"),
    ("existing_status", "text"),
    ("use_unit_id", "bigint"),
    ("maintenance_unit_id", "bigint"),
    ("changed", "boolean"),
    # The file's code names a device in another jurisdiction (refused; nothing of it is kept).
    ("foreign_match", "boolean DEFAULT false"),
)
# Identifier → the condition under which a registered device holding it is another's.
TAKEN = {
    "registration_code": "",
    "certificate_number": "",
    "rescue_id": "AND left(e.region_id, 4) = left(s.region_id, 4)",  # 96333 numbers per city
}
# Element → the equipment columns it writes on an existing device.
UPDATED_BY = {
    "registration_code": ("registration_code",),
    "certificate_number": ("certificate_number",),
    "rescue_id": ("rescue_id",),
    "status": ("status",),
    "lon": ("location", "region_id", "region_mismatch"),
    "division_code": ("declared_region_code", "region_id", "region_mismatch"),
    "address": ("address",),
    "use_unit_name": ("use_unit_id",),
    "use_unit_credit_code": ("use_unit_id",),
    "maintenance_unit_name": ("maintenance_unit_id",),
    "maintenance_unit_credit_code": ("maintenance_unit_id",),
    "manufactured_on": ("manufactured_on",),
    "commissioned_on": ("commissioned_on",),
    "next_inspection_due": ("next_inspection_due",),
}
# Equipment column → its value on update: a blank cell leaves the stored value alone (exports
# leave "not known" blank), as the row-by-row importers do.
KEPT_IF_BLANK = {
    name: f"coalesce(NULLIF(s.{name}, ''), e.{name})"
    for name in ("registration_code", "certificate_number", "rescue_id", "address", "status")
}
STAGED_VALUE = {
    **KEPT_IF_BLANK,
    "location": "coalesce(s.location, e.location)",
    "region_id": "coalesce(s.region_id, e.region_id)",
    "region_mismatch": "CASE WHEN s.location IS NULL THEN e.region_mismatch "
    "ELSE s.declared_region_code <> '' AND s.declared_region_code <> s.region_id END",
    "declared_region_code": "coalesce(NULLIF(s.declared_region_code, ''), e.declared_region_code)",
    **{
        name: f"coalesce(s.{name}, e.{name})"
        for name in (
            "use_unit_id",
            "maintenance_unit_id",
            "manufactured_on",
            "commissioned_on",
            "next_inspection_due",
        )
    },
}
NEW_REGION_MISMATCH = (
    "(s.location IS NOT NULL AND s.declared_region_code <> '' "
    "AND s.declared_region_code <> s.region_id)"
)


# Rows of the file that repeat an earlier row: the same variety, address and use unit within
# NEAR_METRES, unless both have a device code (two coded devices side by side are two devices).
# Linear: rows with the same key at the same point become one place (a hash aggregate); each place
# looks for other places of its key within NEAR_METRES through the places' spatial index; each row
# then reads its place. (A self-join on the key compared every pair of rows sharing a unit and an
# address, and a ledger geocoded to buildings has thousands at one point: hours for a million.)
PLACES = "import_equipment_places"
KEY = ("variety_id", "address", "use_unit_name", "use_unit_credit_code")


def _key(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in KEY)


FIRSTS = "import_equipment_firsts"
NEAR_PLACES = (
    f"DROP TABLE IF EXISTS {PLACES}, {FIRSTS}",
    f"""CREATE TEMP TABLE {PLACES} ON COMMIT DROP AS
        SELECT {_key("g")}, g.x, g.y, ST_SetSRID(ST_MakePoint(g.x, g.y), 4326) AS location,
               g.first, g.first_uncoded
        FROM (SELECT {_key("s")}, ST_X(s.location) AS x, ST_Y(s.location) AS y,
                     min(s.row) AS first, min(s.row) FILTER (WHERE s.device_code = '') AS first_uncoded
              FROM {STAGE} s WHERE s.location IS NOT NULL AND s.variety_id IS NOT NULL
              GROUP BY {_key("s")}, ST_X(s.location), ST_Y(s.location)) g""",
    f"CREATE INDEX ON {PLACES} USING gist (location)",
    f"ANALYZE {PLACES}",
    # Each place's first row, and first uncoded row, among itself and the places near it.
    f"""CREATE TEMP TABLE {FIRSTS} ON COMMIT DROP AS
        SELECT {_key("a")}, a.x, a.y, least(a.first, n.first) AS first,
               least(a.first_uncoded, n.first_uncoded) AS first_uncoded
        FROM {PLACES} a CROSS JOIN LATERAL (
            SELECT min(b.first) AS first, min(b.first_uncoded) AS first_uncoded FROM {PLACES} b
            WHERE b.location && ST_Expand(a.location, {NEAR_DEGREES})
              AND ({_key("b")}) = ({_key("a")}) AND (b.x <> a.x OR b.y <> a.y)
              AND ST_DWithin(a.location::geography, b.location::geography, {NEAR_METRES})) n""",
    f"ANALYZE {FIRSTS}",
)
NEAR_IN_FILE = f"""
    SELECT t.row, t.address, f.first::text
    FROM {STAGE} t JOIN {FIRSTS} p
      ON ({_key("p")}, p.x, p.y) = ({_key("t")}, ST_X(t.location), ST_Y(t.location))
    CROSS JOIN LATERAL (
        SELECT CASE WHEN t.device_code = '' THEN p.first ELSE p.first_uncoded END AS first) f
    WHERE f.first < t.row"""
NEAR_IN_FILE_MESSAGE = (
    "与文件中另一行（建议列为其行号）位置、品种、单位、地址相同 / same place, variety, unit and "
    "address as another row of the file (its row number is the suggestion)"
)


def report_column(mapping: dict[str, str], element: str) -> str:
    """The file's column a report line points at; a GIS layer's own geometry is "geometry"."""
    if element in ("lon", "lat") and element not in mapping:
        return "geometry"
    return mapping.get(element, element)


def create_stage(cursor) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in (*STAGED, *DERIVED))
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(f"CREATE TEMP TABLE {STAGE} ({columns}) ON COMMIT DROP")


def copy_batch(cursor, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    names = ", ".join(name for name, _ in STAGED)
    with cursor.cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


class StageSql:
    """The set-wise half: every statement reads or writes the staged rows."""

    def __init__(self, cursor, request: ImportRequest, prefix: str, outcome: ImportOutcome):
        self.cursor = cursor
        self.mapping = {name: column for name, column in request.mapping.items() if column}
        self.source_crs = crs.CRS.parse(request.source_crs).value
        self.prefix = prefix
        self.outcome = outcome

    def column(self, element: str) -> str:
        return report_column(self.mapping, element)

    def report(
        self, sql: str, params, element: str, rule: str, severity: str, message: str
    ) -> None:
        """A report line for each staged row the query returns as (row, value, suggestion)."""
        self.cursor.execute(sql, params)
        column = self.column(element)
        self.outcome.findings.extend(
            RowFinding(row, column, (value or "")[:200], rule, severity, message, suggestion or "")
            for row, value, suggestion in self.cursor.fetchall()
        )

    def place(self) -> None:
        run = self.cursor.execute
        run(f"CREATE INDEX ON {STAGE} USING gist (location)")
        run(f"CREATE INDEX ON {STAGE} (row)")
        run(f"ANALYZE {STAGE}")
        # The county outside, the points inside: each boundary is prepared once for all its points.
        run(
            f"""UPDATE {STAGE} s SET region_id = hit.code FROM (
                    SELECT DISTINCT ON (p.row) p.row, r.code
                    FROM geo_region r JOIN {STAGE} p ON ST_Intersects(r.boundary, p.location)
                    WHERE r.level = 'county' ORDER BY p.row, r.code) hit
                WHERE hit.row = s.row"""
        )
        run(
            f"""UPDATE {STAGE} s SET region_id = r.code FROM geo_region r
                WHERE s.location IS NULL AND s.declared_region_code <> ''
                  AND r.code = s.declared_region_code"""
        )
        self.report(
            f"""SELECT row, ST_X(location) || ', ' || ST_Y(location), '' FROM {STAGE}
                WHERE location IS NOT NULL AND region_id IS NULL""",
            [],
            "lon",
            "location.no_region",
            ERROR,
            "位置不在任何已登记的县级区划内 / the point lies in no loaded county",
        )
        self.report(
            f"""SELECT row, declared_region_code, '' FROM {STAGE}
                WHERE location IS NULL AND declared_region_code <> '' AND region_id IS NULL""",
            [],
            "division_code",
            "region.unknown",
            ERROR,
            "未知的行政区划代码 / unknown division code",
        )
        self.report(
            f"""SELECT row, '', '' FROM {STAGE}
                WHERE location IS NULL AND declared_region_code = ''""",
            [],
            "lon" if "lon" in self.mapping else "division_code",
            "location.required",
            ERROR,
            "需要位置或行政区划代码 / give a location or a division code",
        )
        self.report(
            f"""SELECT row, declared_region_code, region_id FROM {STAGE}
                WHERE location IS NOT NULL AND declared_region_code <> ''
                  AND region_id IS NOT NULL AND declared_region_code <> region_id""",
            [],
            "division_code",
            "region.mismatch",
            WARNING,
            "申报区划与位置所在区划不一致 / the declared division differs from the county the "
            "point lies in (the suggestion is that county)",
        )
        self.report(
            f"""SELECT row, region_id, '' FROM {STAGE}
                WHERE region_id IS NOT NULL AND left(region_id, %s) <> %s""",
            [len(self.prefix), self.prefix],
            "lon" if "lon" in self.mapping else "division_code",
            "jurisdiction",
            ERROR,
            "该行位于您的辖区之外 / this row lies outside your jurisdiction",
        )

    def match(self) -> None:
        run = self.cursor.execute
        run(
            f"""UPDATE {STAGE} s SET existing_id = e.id, existing_region = e.region_id,
                    existing_variety = e.variety_id, existing_status = e.status
                FROM registry_equipment e
                WHERE s.device_code <> '' AND e.device_code = s.device_code"""
        )
        run(
            f"""UPDATE {STAGE} s SET existing_id = e.id, existing_region = e.region_id,
                    existing_variety = e.variety_id, existing_status = e.status
                FROM (SELECT DISTINCT ON (registration_code) id, registration_code, region_id,
                             variety_id, status
                      FROM registry_equipment
                      WHERE registration_code IN (SELECT registration_code FROM {STAGE}
                                                  WHERE device_code = '' AND registration_code <> '')
                      ORDER BY registration_code, id) e
                WHERE s.device_code = '' AND s.registration_code <> ''
                  AND e.registration_code = s.registration_code"""
        )
        # A code registered in another jurisdiction is not this user's to change, and nothing of
        # that device (where, what variety, which status) may show: the row is refused as
        # "already registered", and the foreign device is forgotten before the checks that
        # compare with it.
        for element, matched_by in (
            ("device_code", "device_code <> ''"),
            ("registration_code", "device_code = ''"),
        ):
            self.report(
                f"""SELECT row, {element}, '' FROM {STAGE}
                    WHERE existing_id IS NOT NULL AND {matched_by}
                      AND left(existing_region, %s) <> %s""",
                [len(self.prefix), self.prefix],
                element,
                f"{element}.duplicate",
                ERROR,
                already_registered(element).message,
            )
        run(
            f"""UPDATE {STAGE} SET foreign_match = true, existing_id = NULL, existing_region = NULL,
                    existing_variety = NULL, existing_status = NULL
                WHERE existing_id IS NOT NULL AND left(existing_region, %s) <> %s""",
            [len(self.prefix), self.prefix],
        )
        self.find_taken_identifiers()
        self.report(
            f"""SELECT row, variety_id, existing_variety FROM {STAGE}
                WHERE existing_id IS NOT NULL AND variety_id IS DISTINCT FROM existing_variety""",
            [],
            "variety",
            "variety.changed",
            ERROR,
            "与已登记设备的品种不同；品种变更须走变更登记 / the variety differs from the registered "
            "device's (the suggestion); a change of variety is registered on its own",
        )
        if "status" in self.mapping:
            allowed = [
                f"('{before}', '{after}')"
                for before, afters in ALLOWED_STATUS_CHANGES.items()
                for after in afters
            ]
            self.report(
                f"""SELECT row, status, existing_status FROM {STAGE}
                    WHERE existing_id IS NOT NULL AND status <> '' AND status <> existing_status
                      AND (existing_status, status) NOT IN ({", ".join(allowed)})""",
                [],
                "status",
                "status.transition",
                ERROR,
                "不允许的状态变更（已注销、报废的设备不能恢复）/ status change not allowed "
                "(cancelled and scrapped are final); the suggestion is the current status",
            )

    def find_taken_identifiers(self) -> None:
        """Codes the file gives a device that another device already holds, anywhere: named by
        field only. (A unique constraint would refuse them at the commit.)"""
        for element, same_scope in TAKEN.items():
            self.report(
                f"""SELECT s.row, s.{element}, '' FROM {STAGE} s
                    WHERE s.{element} <> '' AND NOT s.foreign_match AND EXISTS (
                        SELECT FROM registry_equipment e
                        WHERE e.{element} = s.{element} {same_scope}
                          AND e.id IS DISTINCT FROM s.existing_id)""",
                [],
                element,
                f"{element}.duplicate",
                ERROR,
                already_registered(element).message,
            )
        # The 96333 number twice in the file within one city (the cell checks see no county).
        self.report(
            f"""SELECT row, rescue_id, first::text FROM (
                    SELECT row, rescue_id,
                           min(row) OVER (PARTITION BY left(region_id, 4), rescue_id) AS first
                    FROM {STAGE} WHERE rescue_id <> '' AND region_id IS NOT NULL) d
                WHERE row <> first""",
            [],
            "rescue_id",
            "rescue_id.duplicate_in_file",
            ERROR,
            "与文件中另一行（建议列为其行号）同市同一96333救援识别码 / the same 96333 rescue ID in "
            "the same city as another row of the file (its row number is the suggestion)",
        )

    def resolve_units(self) -> None:
        for role in ("use_unit", "maintenance_unit"):
            self._link_units(role)
        self.cursor.execute(
            f"""SELECT count(*) FROM (
                    SELECT DISTINCT use_unit_credit_code, use_unit_name, region_id FROM {STAGE}
                    WHERE use_unit_id IS NULL AND region_id IS NOT NULL
                    UNION
                    SELECT DISTINCT maintenance_unit_credit_code, maintenance_unit_name, region_id
                    FROM {STAGE}
                    WHERE maintenance_unit_id IS NULL AND maintenance_unit_name <> ''
                      AND region_id IS NOT NULL) wanted"""
        )
        self.outcome.units_new = self.cursor.fetchone()[0]
        self.report(
            f"""SELECT row, maintenance_unit_credit_code, '' FROM {STAGE}
                WHERE maintenance_unit_id IS NULL AND maintenance_unit_credit_code <> ''
                  AND maintenance_unit_name = ''""",
            [],
            "maintenance_unit_credit_code",
            "maintenance_unit.unknown",
            ERROR,
            "未登记的维保单位；请同时提供单位名称 / no maintenance unit holds this credit code: "
            "give its name too, to register it",
        )

    def _link_units(self, role: str) -> None:
        # By credit code anywhere (a unit may use equipment outside its own county); by name only in
        # the device's county, where a name means one organisation.
        self.cursor.execute(
            f"""UPDATE {STAGE} s SET {role}_id = u.id FROM registry_unit u
                WHERE s.{role}_credit_code <> '' AND u.credit_code = s.{role}_credit_code"""
        )
        self.cursor.execute(
            f"""UPDATE {STAGE} s SET {role}_id = u.id FROM (
                    SELECT DISTINCT ON (name, region_id) id, name, region_id FROM registry_unit
                    WHERE name IN (SELECT {role}_name FROM {STAGE} WHERE {role}_credit_code = '')
                    ORDER BY name, region_id, id) u
                WHERE s.{role}_id IS NULL AND s.{role}_credit_code = '' AND s.{role}_name <> ''
                  AND u.name = s.{role}_name AND u.region_id = s.region_id"""
        )

    def find_near_duplicates(self) -> None:
        # Each new row probes the registry's spatial index for its own neighbourhood: a join on
        # the key could pair every new row of a large unit with every device it has.
        self.report(
            f"""SELECT s.row, s.address, n.code FROM {STAGE} s CROSS JOIN LATERAL (
                    SELECT min(coalesce(b.device_code, b.registration_code)) AS code
                    FROM registry_equipment b
                    WHERE b.location && ST_Expand(s.location, {NEAR_DEGREES})
                      AND b.variety_id = s.variety_id AND b.use_unit_id = s.use_unit_id
                      AND b.address = s.address AND (s.device_code = '' OR b.device_code IS NULL)
                      AND ST_DWithin(s.location::geography, b.location::geography, {NEAR_METRES})
                      AND left(b.region_id, %s) = %s) n
                WHERE s.existing_id IS NULL AND s.location IS NOT NULL AND n.code IS NOT NULL""",
            # The suggestion names the other device: only one the user may see.
            [len(self.prefix), self.prefix],
            "address",
            "duplicate.near",
            WARNING,
            "与已登记设备位置、品种、使用单位、地址相同，可能重复 / same place, variety, use unit and "
            "address as a registered device (the suggestion): possibly entered twice",
        )
        for statement in NEAR_PLACES:
            self.cursor.execute(statement)
        self.report(
            NEAR_IN_FILE, [], "address", "duplicate.near_in_file", WARNING, NEAR_IN_FILE_MESSAGE
        )

    def updated_columns(self) -> list[str]:
        columns: list[str] = []
        for element, written in UPDATED_BY.items():
            if element in self.mapping:
                columns += [name for name in written if name not in columns]
        return columns

    def find_changes(self) -> None:
        columns = self.updated_columns()
        differs = (
            " OR ".join(f"e.{name} IS DISTINCT FROM {STAGED_VALUE[name]}" for name in columns)
            or "false"
        )
        self.cursor.execute(
            f"""UPDATE {STAGE} s SET changed = ({differs})
                FROM registry_equipment e WHERE e.id = s.existing_id"""
        )
        self.cursor.execute(
            f"""SELECT count(*) FILTER (WHERE existing_id IS NULL AND NOT foreign_match),
                       count(*) FILTER (WHERE changed), count(*) FILTER (WHERE NOT changed)
                FROM {STAGE}"""
        )
        self.outcome.new, self.outcome.changed, self.outcome.unchanged = self.cursor.fetchone()

    # --- the commit ---------------------------------------------------------------------------

    def lock_for_commit(self) -> None:
        """One equipment commit at a time, from matching to the end of its transaction: a second
        commit of the same file waits, then matches the devices the first wrote (as unchanged)."""
        self.cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [COMMIT_LOCK])

    def write(self, acting_user: User | None) -> None:
        """The commit; a code that a write outside the import (a registration, the exchange)
        took meanwhile is reported on its row, like one taken before, and nothing is written."""
        try:
            with transaction.atomic():
                self._write(acting_user)
        except IntegrityError as error:
            field = taken_identifier(error)
            if field is None:
                raise
            before = self.outcome.errors
            self.find_taken_identifiers()
            self.report(
                f"""SELECT s.row, s.device_code, '' FROM {STAGE} s JOIN registry_equipment e
                    ON e.device_code = s.device_code WHERE s.existing_id IS NULL""",
                [],
                "device_code",
                "device_code.duplicate",
                ERROR,
                already_registered("device_code").message,
            )
            if self.outcome.errors == before:
                self.outcome.findings.append(
                    RowFinding(
                        0,
                        self.column(field),
                        "",
                        f"{field}.duplicate",
                        ERROR,
                        already_registered(field).message,
                        "重新导入 / import the file again",
                    )
                )

    def _write(self, acting_user: User | None) -> None:
        actor = getattr(acting_user, "pk", None)
        agency = getattr(acting_user, "agency", None)
        jurisdiction = (agency.region_id or "") if agency else ""
        unit_ids = self._register_units(actor, jurisdiction)
        # One statement: the devices, their registration events and audit rows come from the
        # INSERT's own RETURNING, so the staged rows need no pass to learn their new ids. A new
        # row's codes name one staged row (a code twice in the file is an error).
        self.cursor.execute(
            f"""WITH inserted AS (
                    INSERT INTO registry_equipment (
                        device_code, registration_code, certificate_number, rescue_id, variety_id,
                        kind, status, location, route, source_crs, address, region_id,
                        declared_region_code, region_mismatch, use_unit_id, maintenance_unit_id,
                        manufacturer_id, installer_id, manufactured_on, commissioned_on, params,
                        next_inspection_due, created_at, updated_at)
                    SELECT NULLIF(s.device_code, ''), s.registration_code, s.certificate_number,
                           s.rescue_id, s.variety_id, s.kind,
                           coalesce(NULLIF(s.status, ''), %(status)s), s.location, NULL,
                           %(source_crs)s, s.address, s.region_id, s.declared_region_code,
                           {NEW_REGION_MISMATCH}, s.use_unit_id, s.maintenance_unit_id,
                           NULL, NULL, s.manufactured_on, s.commissioned_on, '{{}}'::jsonb,
                           s.registration_due, now(), now()
                    FROM {STAGE} s WHERE s.existing_id IS NULL
                    RETURNING *),
                events AS (
                    INSERT INTO registry_lifecycleevent (equipment_id, kind, occurred_on, unit_id,
                                                         details, recorded_at)
                    SELECT i.id, %(registration)s, s.registered_on, i.use_unit_id,
                           s.registration_details, now()
                    FROM inserted i JOIN {STAGE} s
                      ON s.existing_id IS NULL AND s.device_code = coalesce(i.device_code, '')
                     AND s.registration_code = i.registration_code
                    RETURNING id),
                audited AS (
                    INSERT INTO accounts_auditentry (at, actor_id, jurisdiction, action, model,
                                                     object_pk, region_code, before, after)
                    SELECT now(), %(actor)s, %(jurisdiction)s, %(action)s, %(model)s, i.id::text,
                           i.region_id, NULL, {rules.snapshot_sql(Equipment, "i")}
                    FROM inserted i)
                SELECT 'equipment', id FROM inserted UNION ALL SELECT 'event', id FROM events""",
            {
                "status": rules.REGISTERED_STATUS,
                "source_crs": self.source_crs,
                "registration": LifecycleEventKind.REGISTRATION,
                "actor": actor,
                "jurisdiction": jurisdiction,
                "action": rules.EQUIPMENT_IMPORTED,
                "model": Equipment._meta.label,
            },
        )
        written = self.cursor.fetchall()
        new_ids = [pk for table, pk in written if table == "equipment"]
        event_ids = [pk for table, pk in written if table == "event"]
        changed_ids = self._update_changed(actor, jurisdiction)
        event_ids += self._record_status_events()
        # Units before the devices that use them, devices before their events: a reader of the
        # log resolves each entry's references against the entries before it.
        changelog.record_rows(Unit, unit_ids, "create")
        changelog.record_rows(Equipment, new_ids, "create")
        changelog.record_rows(Equipment, changed_ids, "update")
        changelog.record_rows(LifecycleEvent, event_ids, "create")

    def _register_units(self, actor: int | None, jurisdiction: str) -> list[int]:
        """Units named in the file and not on record, registered in the county of their first device."""
        ids: list[int] = []
        for role, unit_role in (("use_unit", "use"), ("maintenance_unit", "maintenance")):
            self.cursor.execute(
                f"""WITH created AS (
                        INSERT INTO registry_unit (credit_code, name, roles, address, location,
                                                   region_id, contact_name, contact_phone,
                                                   created_at, updated_at)
                        SELECT NULLIF({role}_credit_code, ''), {role}_name, ARRAY[%(role)s], '',
                               NULL, region_id, '', '', now(), now()
                        FROM (SELECT DISTINCT ON ({role}_credit_code,
                                     CASE WHEN {role}_credit_code = '' THEN {role}_name END,
                                     CASE WHEN {role}_credit_code = '' THEN region_id END)
                                     {role}_credit_code, {role}_name, region_id
                              FROM {STAGE}
                              WHERE {role}_id IS NULL AND {role}_name <> '' AND region_id IS NOT NULL
                              ORDER BY {role}_credit_code,
                                       CASE WHEN {role}_credit_code = '' THEN {role}_name END,
                                       CASE WHEN {role}_credit_code = '' THEN region_id END, row
                             ) wanted
                        RETURNING *),
                    audited AS (
                        INSERT INTO accounts_auditentry (at, actor_id, jurisdiction, action, model,
                                                         object_pk, region_code, before, after)
                        SELECT now(), %(actor)s, %(jurisdiction)s, %(action)s, %(model)s,
                               u.id::text, u.region_id, NULL, {rules.snapshot_sql(Unit, "u")}
                        FROM created u)
                    SELECT id FROM created""",
                {
                    "role": unit_role,
                    "actor": actor,
                    "jurisdiction": jurisdiction,
                    "action": rules.UNIT_IMPORTED,
                    "model": Unit._meta.label,
                },
            )
            ids += [row[0] for row in self.cursor.fetchall()]
            self._link_units(role)
        return ids

    def _update_changed(self, actor: int | None, jurisdiction: str) -> list[int]:
        columns = self.updated_columns()
        if not columns:
            return []
        assignments = ", ".join(f"{name} = {STAGED_VALUE[name]}" for name in columns)
        if "location" in columns:
            assignments += ", source_crs = %(source_crs)s"
        snapshot = rules.snapshot_sql(Equipment, "e")
        # The CTE reads the rows before the UPDATE changes them: before and after in one
        # statement, whole records as `update_equipment` audits them.
        self.cursor.execute(
            f"""WITH before AS (
                    SELECT e.id, {snapshot} AS value
                    FROM registry_equipment e JOIN {STAGE} s ON s.existing_id = e.id
                    WHERE s.changed),
                updated AS (
                    UPDATE registry_equipment e SET {assignments}, updated_at = now()
                    FROM {STAGE} s WHERE s.existing_id = e.id AND s.changed
                    RETURNING e.id, e.region_id, {snapshot} AS value)
                INSERT INTO accounts_auditentry (at, actor_id, jurisdiction, action, model, object_pk,
                                                 region_code, before, after)
                SELECT now(), %(actor)s, %(jurisdiction)s, %(action)s, %(model)s,
                       updated.id::text, updated.region_id, before.value, updated.value
                FROM updated JOIN before USING (id)
                RETURNING object_pk""",
            {
                "source_crs": self.source_crs,
                "actor": actor,
                "jurisdiction": jurisdiction,
                "action": rules.EQUIPMENT_UPDATED,
                "model": Equipment._meta.label,
            },
        )
        return [int(row[0]) for row in self.cursor.fetchall()]

    def _record_status_events(self) -> list[int]:
        """A status event for each device whose status the file changed, as the services write it."""
        if "status" not in self.mapping:
            return []
        kinds = " ".join(f"WHEN '{status}' THEN '{kind}'" for status, kind in STATUS_EVENTS.items())
        details = " ".join(f"WHEN '{status}' THEN %s::jsonb" for status in STATUS_EVENTS)
        self.cursor.execute(
            f"""INSERT INTO registry_lifecycleevent (equipment_id, kind, occurred_on, unit_id,
                                                      details, recorded_at)
                SELECT existing_id, CASE status {kinds} END, %s, NULL,
                       CASE status {details} END, now()
                FROM {STAGE} WHERE changed AND status <> '' AND status <> existing_status
                RETURNING id""",
            [dt.date.today()]
            + [json.dumps(rules.status_details(status, "import")) for status in STATUS_EVENTS],
        )
        return [row[0] for row in self.cursor.fetchall()]
