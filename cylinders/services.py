"""Every write to the cylinder register and the filling records: atomic, checked against
accounts.policy and the jurisdiction, audited. Fillings are checked against cylinders.rules in the
statement that stores them."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import audit, policy
from accounts.models import User
from accounts.tokens import digest
from common.errors import DomainError, Problem
from licensing import services as licensing_services
from licensing.models import Licence, LicenceKind
from registry.models import Unit, UnitRole
from registry.services.checks import ensure_in_jurisdiction

from . import rules
from .models import (
    Cylinder,
    CylinderInspection,
    CylinderKind,
    CylinderStatus,
    StationToken,
)

# Periodic-inspection interval by cylinder type, in years (TSG 23-2021: LPG steel welded 4; the
# others 3 here until the rule table of issue 23 carries them).
INSPECTION_YEARS = {CylinderKind.LPG: 4}
DEFAULT_INSPECTION_YEARS = 3
MAX_BATCH = 5000  # fillings in one POST: a station posts every few minutes, not a year at once
CLOCK_SKEW = dt.timedelta(minutes=10)  # a station's clock may run ahead of ours by this much
STATION_TOKEN_DAYS = 365


class CylinderError(DomainError):
    """A cylinder or filling write refused; nothing was saved."""


def _refuse(field_name: str, rule: str, message: str) -> CylinderError:
    return CylinderError([Problem(field_name, rule, message)])


def years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def interval_years(kind: str) -> int:
    return INSPECTION_YEARS.get(kind, DEFAULT_INSPECTION_YEARS)


def _filling_station(station: Unit, acting_user: User | None) -> None:
    if UnitRole.FILLING not in station.roles:
        raise _refuse(
            "station", "station.role", "该单位不是充装单位 / the unit is not a filling station"
        )
    ensure_in_jurisdiction(acting_user, station.region_id)


@transaction.atomic
def register_cylinder(
    *,
    acting_user: User | None,
    owner: Unit,
    tag: str,
    maker_name: str,
    serial_number: str,
    made_on: dt.date,
    kind: str,
    volume_l: Decimal | float | str,
    working_pressure_mpa: Decimal | float | str,
    design_life_years: int,
    maker_code: str = "",
    last_inspected_on: dt.date | None = None,
    next_inspection_due: dt.date | None = None,
    status: str = CylinderStatus.IN_SERVICE,
    scrap_on: dt.date | None = None,
) -> Cylinder:
    """Register a cylinder to its owning filling station; scrap date from its design life, next
    inspection from its type's interval, unless given (an import carries the stamped ones)."""
    policy.require(acting_user, policy.Action.REGISTER)
    _filling_station(owner, acting_user)
    tag = tag.strip()
    if not tag:
        raise _refuse("tag", "tag.required", "电子标签必填 / the identity tag is required")
    if kind not in CylinderKind.values:
        raise _refuse("kind", "kind.unknown", f"未知气瓶类别 {kind} / unknown cylinder type")
    if status not in CylinderStatus.values:
        raise _refuse("status", "status.unknown", f"未知状态 {status} / unknown status")
    scrap_on = scrap_on or years_later(made_on, design_life_years)
    if scrap_on <= made_on:
        raise _refuse(
            "scrap_on",
            "scrap_on.before_made",
            "报废日期须晚于制造日期 / scrap date before manufacture",
        )
    if Cylinder.objects.filter(tag=tag).exists():
        # Any station's, in or out of the jurisdiction: the answer names the field, not the owner.
        raise _refuse("tag", "tag.duplicate", "电子标签已登记 / identity tag already registered")
    base = last_inspected_on or made_on
    cylinder = Cylinder.objects.create(
        tag=tag,
        maker_name=maker_name,
        maker_code=maker_code,
        serial_number=serial_number,
        made_on=made_on,
        kind=kind,
        volume_l=volume_l,
        working_pressure_mpa=working_pressure_mpa,
        design_life_years=design_life_years,
        scrap_on=scrap_on,
        last_inspected_on=last_inspected_on,
        next_inspection_due=next_inspection_due or years_later(base, interval_years(kind)),
        owner=owner,
        region_id=owner.region_id,
        status=status,
    )
    audit.record(acting_user, "cylinder.registered", cylinder)
    return cylinder


@transaction.atomic
def record_cylinder_inspection(
    cylinder: Cylinder,
    *,
    acting_user: User | None,
    inspected_on: dt.date,
    passed: bool,
    body_name: str,
) -> CylinderInspection:
    """A periodic inspection: a pass moves the next due date by the type's interval; a failure
    scraps the cylinder (TSG 23: a cylinder that fails is not returned to service)."""
    policy.require(acting_user, policy.Action.RECORD_INSPECTION)
    ensure_in_jurisdiction(acting_user, cylinder.region_id)
    cylinder = Cylinder.objects.select_for_update().get(pk=cylinder.pk)
    next_due = years_later(inspected_on, interval_years(cylinder.kind)) if passed else None
    inspection = CylinderInspection.objects.create(
        cylinder=cylinder, inspected_on=inspected_on, passed=passed, body_name=body_name,
        next_due=next_due, region_id=cylinder.region_id,
    )  # fmt: skip
    before = audit.snapshot(cylinder)
    cylinder.last_inspected_on = inspected_on
    if passed:
        cylinder.next_inspection_due = next_due
        if cylinder.status == CylinderStatus.OVERDUE:
            cylinder.status = CylinderStatus.IN_SERVICE
    else:
        cylinder.status = CylinderStatus.SCRAPPED
    cylinder.save(update_fields=["last_inspected_on", "next_inspection_due", "status"])
    audit.record(acting_user, "cylinder.inspected", cylinder, before=before)
    return inspection


# TSG 07-2019: a licence runs four years; a filling licence entered without its issue day is taken
# to have been issued one period before its expiry.
LICENCE_YEARS = 4


@transaction.atomic
def grant_filling_licence(
    station: Unit,
    *,
    acting_user: User | None,
    number: str,
    valid_until: dt.date,
    issued_on: dt.date | None = None,
    authority: str = "",
) -> Licence:
    """Record a station's filling licence (充装许可证) in the licence register — kind filling,
    scope gas cylinders — which the filling rules and the unlicensed-activity rule both read. A
    renewal is a new licence (its number carries the expiry year)."""
    _filling_station(station, acting_user)
    agency = getattr(acting_user, "agency", None)
    return licensing_services.issue_licence(
        station,
        kind=LicenceKind.FILLING,
        scope=[{"code": rules.CYLINDER_SCOPE, "grade": ""}],
        number=number,
        authority=authority or (agency.name if agency is not None else ""),
        issued_on=issued_on or years_later(valid_until, -LICENCE_YEARS),
        expires_on=valid_until,
        acting_user=acting_user,
    )


@transaction.atomic
def issue_station_token(station: Unit, *, acting_user: User | None) -> str:
    """A new machine key for the station (the previous one stops working); returned once, only
    its digest is kept (accounts.tokens.digest, as for users' API tokens)."""
    policy.require(acting_user, policy.Action.MANAGE_STATION_KEYS)
    _filling_station(station, acting_user)
    now = timezone.now()
    StationToken.objects.filter(station=station, revoked_at__isnull=True).update(revoked_at=now)
    key = secrets.token_hex(20)
    StationToken.objects.create(
        station=station, digest=digest(key), expires_at=now + dt.timedelta(days=STATION_TOKEN_DAYS)
    )
    audit.record(acting_user, "station_token.issued", station, after={"station": station.pk})
    return key


@transaction.atomic
def revoke_station_tokens(station: Unit, *, acting_user: User | None) -> int:
    """Stop the station's usable key now (its posts are refused from then on); how many."""
    policy.require(acting_user, policy.Action.MANAGE_STATION_KEYS)
    _filling_station(station, acting_user)
    count = StationToken.objects.filter(station=station, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if count:
        audit.record(acting_user, "station_token.revoked", station,
                     after={"station": station.pk, "tokens": count})  # fmt: skip
    return count


def current_station_token(station: Unit) -> StationToken | None:
    """The station's usable key (its dates; the key itself is not kept), if any."""
    return StationToken.objects.usable().filter(station=station).order_by("-created_at").first()


def station_for_key(key: str) -> Unit | None:
    """The station a machine key speaks for; None when unknown, replaced or expired."""
    token = (
        StationToken.objects.usable().select_related("station").filter(digest=digest(key)).first()
    )
    return token.station if token else None


# --------------------------------------------------------------------------- fillings


@dataclass(frozen=True)
class FillingRow:
    tag: str
    filled_at: dt.datetime
    medium: str
    quantity_kg: Decimal
    check_passed: bool
    operator_certificate: str


@dataclass
class IngestReport:
    """What became of each row of a batch: recorded (with the rules it broke) or a duplicate of
    a filling already recorded (same station, tag and time: nothing added)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recorded(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "recorded")

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "duplicate")

    @property
    def violations(self) -> int:
        return sum(len(r["violations"]) for r in self.rows)


CHECK_RESULTS = {"pass": True, "合格": True, "fail": False, "不合格": False}


def _text(row: Mapping, name: str, limit: int, problems: list, where: str) -> str:
    value = row.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        problems.append(Problem(f"{where}.{name}", f"{name}.required", "必填 / required"))
    elif len(value) > limit:
        problems.append(
            Problem(
                f"{where}.{name}",
                f"{name}.length",
                f"最多 {limit} 个字符 / at most {limit} characters",
            )
        )
    elif not value.isprintable() or "\\" in value:
        # Written into COPY's text format as it is (store_fillings): nothing to escape.
        problems.append(Problem(f"{where}.{name}", f"{name}.characters",
                                "不能含控制字符或反斜杠 / no control characters or backslashes"))  # fmt: skip
    return value


def _moment(raw: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(raw)  # the common case, at C speed
    except ValueError:
        return parse_datetime(raw)  # raises nothing: None for what it cannot read


def parse_fillings(rows: Sequence[Any], *, now: dt.datetime | None = None) -> list[FillingRow]:
    """Read a batch, every problem of every row named (`fillings[3].quantity_kg`); all or nothing."""
    if not isinstance(rows, list) or not rows:
        raise _refuse("fillings", "fillings.required", "至少一条充装记录 / at least one filling")
    if len(rows) > MAX_BATCH:
        raise _refuse("fillings", "fillings.too_many",
                      f"一批最多 {MAX_BATCH} 条 / at most {MAX_BATCH} fillings a batch")  # fmt: skip
    latest = (now or timezone.now()) + CLOCK_SKEW
    problems: list[Problem] = []
    parsed = []
    for i, row in enumerate(rows):
        where, before = f"fillings[{i}]", len(problems)
        if not isinstance(row, Mapping):
            problems.append(Problem(where, "row.invalid", "应为对象 / expected an object"))
            continue
        tag = _text(row, "tag", 64, problems, where)
        medium = _text(row, "medium", 32, problems, where)
        certificate = _text(row, "operator_certificate", 32, problems, where)
        raw_time = row.get("filled_at")
        filled_at = _moment(raw_time) if isinstance(raw_time, str) else None
        if filled_at is None:
            problems.append(Problem(f"{where}.filled_at", "filled_at.invalid",
                                    "应为 ISO 8601 时间 / expected an ISO 8601 time",
                                    suggestion="2026-12-07T09:30:00+08:00"))  # fmt: skip
        else:
            if timezone.is_naive(filled_at):  # the station's local time
                filled_at = timezone.make_aware(filled_at)
            if filled_at > latest:
                problems.append(Problem(f"{where}.filled_at", "filled_at.future",
                                        "充装时间在未来 / the filling time is in the future"))  # fmt: skip
        try:
            quantity = Decimal(str(row.get("quantity_kg")))
            if not quantity.is_finite() or not Decimal(0) < quantity < Decimal(1_000_000):
                raise InvalidOperation
            quantity = quantity.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            quantity = None
            problems.append(Problem(f"{where}.quantity_kg", "quantity_kg.invalid",
                                    "应为大于 0 的千克数 / expected kilograms above 0"))  # fmt: skip
        check = CHECK_RESULTS.get(str(row.get("check_result", "")).strip().lower())
        if check is None:
            problems.append(Problem(f"{where}.check_result", "check_result.invalid",
                                    "应为 pass 或 fail / expected pass or fail", suggestion="pass"))  # fmt: skip
        if len(problems) == before:
            parsed.append(FillingRow(tag, filled_at, medium, quantity, check, certificate))
    if problems:
        raise CylinderError(problems)
    return parsed


# The batch's steps after it is COPYed into `filling_batch`: leave out what is recorded already (and
# repeats inside the batch), check the rules into `filling_checked` with the ids the rows will have,
# which is then COPYed into the partitioned table (COPY routes rows to partitions in bulk, INSERT
# one by one: three times slower there) and its violations inserted from it.
CHECK_BATCH = f"""
CREATE TEMP TABLE filling_checked ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('cylinders_filling', 'id')) AS id,
       %(station)s::integer AS station_id, c.id AS cylinder_id, f.tag, f.filled_at, f.medium,
       f.quantity_kg, f.check_passed, f.operator_certificate, %(region)s::varchar AS region_id,
       {rules.broken_sql()} AS violations, now() AS received_at
FROM (
    -- Repeats inside the batch once, and none the station has recorded already.
    SELECT DISTINCT ON (b.tag, b.filled_at) b.*, %(station)s::integer AS station_id
    FROM filling_batch b
    -- The batch's time span lets the planner leave out the other months' partitions.
    WHERE NOT EXISTS (SELECT FROM cylinders_filling x WHERE x.station_id = %(station)s
                      AND x.filled_at BETWEEN %(first)s AND %(last)s
                      AND x.tag = b.tag AND x.filled_at = b.filled_at)
    ORDER BY b.tag, b.filled_at
) f {rules.joins("f")}
"""
FILLING_COLUMNS = (
    "id, station_id, cylinder_id, tag, filled_at, medium, quantity_kg, check_passed, "
    "operator_certificate, region_id, violations, received_at"
)
INSERT_VIOLATIONS = """
INSERT INTO cylinders_violation (filling_id, filled_at, station_id, cylinder_id, tag, rule,
                                 region_id, found_at, found_by)
SELECT k.id, k.filled_at, k.station_id, k.cylinder_id, k.tag, v.rule, k.region_id, now(), 'ingest'
FROM filling_checked k CROSS JOIN LATERAL jsonb_array_elements_text(k.violations) AS v(rule)
"""

# The station's kept figures (StationDay), bumped in the batch's transaction: its fillings and
# their violations by the filling's local day. Ordered by day so two batches of one station lock
# the same rows in the same order.
BUMP_STATION_DAYS = """
INSERT INTO cylinders_stationday (station_id, day, fillings, violations, region_id)
SELECT station_id, (filled_at AT TIME ZONE %(tz)s)::date AS day, count(*),
       sum(jsonb_array_length(violations)), min(region_id)
FROM filling_checked GROUP BY station_id, day ORDER BY day
ON CONFLICT (station_id, day) DO UPDATE SET fillings = cylinders_stationday.fillings +
    excluded.fillings, violations = cylinders_stationday.violations + excluded.violations
"""
# The same figures counted afresh from the records: the migration's backfill, and what tests hold
# the kept figures to.
RECOUNT_STATION_DAYS = """
INSERT INTO cylinders_stationday (station_id, day, fillings, violations, region_id)
SELECT station_id, day, sum(fillings), sum(violations), min(region_id) FROM (
    SELECT station_id, (filled_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS fillings,
           0 AS violations, min(region_id) AS region_id
    FROM cylinders_filling GROUP BY 1, 2
    UNION ALL
    SELECT station_id, (filled_at AT TIME ZONE %(tz)s)::date, 0, count(*), min(region_id)
    FROM cylinders_violation GROUP BY 1, 2
) counted GROUP BY station_id, day
"""


def store_fillings(station: Unit, rows: Sequence[FillingRow]) -> dict[tuple, list[str]]:
    """Store a batch with the rules applied; a repeat of station + tag + time adds nothing.
    Returns the recorded (tag, filled_at) with the rules each broke. Call inside a transaction.
    Two identical batches racing each other: one stores, the other is refused (resend it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE filling_batch (tag varchar(64), filled_at timestamptz, "
            "medium varchar(32), quantity_kg numeric(8, 2), check_passed boolean, "
            "operator_certificate varchar(32)) ON COMMIT DROP"
        )
        # COPY's text format written here: parse_fillings let no tab, newline or backslash in.
        text = "".join(
            f"{r.tag}\t{r.filled_at.isoformat()}\t{r.medium}\t{r.quantity_kg}\t"
            f"{'t' if r.check_passed else 'f'}\t{r.operator_certificate}\n"
            for r in rows
        )
        with cursor.copy("COPY filling_batch FROM STDIN") as copy:
            copy.write(text.encode())
        times = [r.filled_at for r in rows]
        cursor.execute(CHECK_BATCH, {"station": station.pk, "region": station.region_id,
                                     "first": min(times), "last": max(times)})  # fmt: skip
        checked = bytearray()
        with cursor.copy(f"COPY (SELECT {FILLING_COLUMNS} FROM filling_checked) TO STDOUT") as out:
            for data in out:
                checked += data
        try:
            with (
                transaction.atomic(),
                cursor.copy(f"COPY cylinders_filling ({FILLING_COLUMNS}) FROM STDIN") as copy,
            ):
                copy.write(checked)
        except IntegrityError as error:
            raise _refuse(
                "fillings", "fillings.concurrent",
                "同一批记录正被同时提交，请重新发送 / the same fillings are being sent at the same "
                "time: send the batch again",
            ) from error  # fmt: skip
        cursor.execute(INSERT_VIOLATIONS)
        cursor.execute(BUMP_STATION_DAYS, {"tz": settings.TIME_ZONE})
        cursor.execute("SELECT tag, filled_at, violations FROM filling_checked")
        # Django reads jsonb as text (its JSONField decodes): decode here likewise.
        recorded = {(tag, at): json.loads(broken) for tag, at, broken in cursor.fetchall()}
        cursor.execute("DROP TABLE filling_batch, filling_checked")
    return recorded


def record_fillings(
    station: Unit, rows: Sequence[Any], *, acting_user: User | None
) -> IngestReport:
    """A station's batch of fillings: every row read first (any problem refuses the batch), then
    stored with the rules applied; idempotent by station + tag + time. `acting_user` None: the
    station itself, by its machine key; a user enters them for a station of their jurisdiction."""
    policy.require(acting_user, policy.Action.RECORD_FILLING)
    _filling_station(station, acting_user)
    parsed = parse_fillings(rows)
    with transaction.atomic():
        recorded = store_fillings(station, parsed)
        report = IngestReport()
        for i, row in enumerate(parsed):
            key = (row.tag, row.filled_at)
            broken = recorded.pop(key, None)
            report.rows.append({
                "row": i, "tag": row.tag, "filled_at": row.filled_at.isoformat(),
                "status": "duplicate" if broken is None else "recorded",
                "violations": broken or [],
            })  # fmt: skip
        audit.record(
            acting_user, "fillings.recorded", station,
            after={"station": station.pk, "recorded": report.recorded,
                   "duplicates": report.duplicates, "violations": report.violations},
        )  # fmt: skip
    return report


# The new violations and the stations' kept figures in one statement: a violation added is counted.
RECHECK = f"""
WITH added AS (
    INSERT INTO cylinders_violation (filling_id, filled_at, station_id, cylinder_id, tag, rule,
                                     region_id, found_at, found_by)
    SELECT f.id, f.filled_at, f.station_id, c.id, f.tag, v.rule, f.region_id, now(), 'recheck'
    FROM cylinders_filling f {rules.joins("f")}
    CROSS JOIN LATERAL jsonb_array_elements_text({rules.broken_sql()}) AS v(rule)
    WHERE f.filled_at >= %(since)s AND f.filled_at < %(until)s
    ON CONFLICT (filling_id, rule) DO NOTHING
    RETURNING station_id, filled_at, region_id
), kept AS (
    INSERT INTO cylinders_stationday (station_id, day, fillings, violations, region_id)
    SELECT station_id, (filled_at AT TIME ZONE %(tz)s)::date AS day, 0, count(*), min(region_id)
    FROM added GROUP BY station_id, day ORDER BY day
    ON CONFLICT (station_id, day) DO UPDATE
        SET violations = cylinders_stationday.violations + excluded.violations
)
SELECT count(*) FROM added
"""

MARK_OVERDUE = """
UPDATE cylinders_cylinder SET status = CASE WHEN next_inspection_due < %(today)s
    THEN 'overdue' ELSE 'in_service' END
WHERE status IN ('in_service', 'overdue')
  AND (status = 'overdue') <> (next_inspection_due < %(today)s)
"""


@transaction.atomic
def recheck_fillings(
    since: dt.datetime, until: dt.datetime, *, today: dt.date | None = None
) -> dict:
    """The batch re-check: the same rules over the fillings of [since, until) with what is known
    now (a cylinder since reported lost, a licence found expired); new violations are added, none
    removed. Cylinders' in-service/overdue status is brought up to date too."""
    with connection.cursor() as cursor:
        cursor.execute(RECHECK, {"since": since, "until": until, "tz": settings.TIME_ZONE})
        added = cursor.fetchone()[0]
        cursor.execute(MARK_OVERDUE, {"today": today or timezone.localdate()})
        marked = cursor.rowcount
    return {"violations_added": added, "statuses_changed": marked}


def ensure_partitions(first_month: dt.date, months: int) -> int:
    """Create the monthly filling partitions from first_month on; how many were new."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cylinders_ensure_filling_partitions(%s, %s)", [first_month, months])
        return cursor.fetchone()[0]
