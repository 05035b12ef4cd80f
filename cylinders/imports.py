"""The cylinder register and filling records from a file, through the registry's import pipeline
(dry run, per-row report, all or nothing: registry/importers). Registered with the pipeline in
CylindersConfig.ready(): the registry sits below this app and cannot name it.

Cylinders are written row by row through services.register_cylinder (an existing tag of the
jurisdiction is compared and updated). Fillings are read row by row with the endpoint's own
parser (services.parse_fillings), then stored per station through services.record_fillings, the
endpoint's path: the same rules, the same violations, idempotent by station + tag + time.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from common.errors import DomainError
from registry.importers import cells
from registry.importers.elements import CODE, DATE, INTEGER, NUMBER, Element
from registry.importers.pipeline import ImportOutcome, ImportRequest
from registry.importers.readers import RowReader
from registry.importers.records.accidents import moment
from registry.importers.records.common import (
    CHANGED,
    NEW,
    UNCHANGED,
    Row,
    allowed,
    choice_table,
    differences,
    run_dataset,
    scoped,
    update_record,
    visible,
)
from registry.models import Unit, UnitRole
from registry.validators import WARNING, Finding

from . import rules, services
from .models import Cylinder, CylinderKind, CylinderStatus

CYLINDERS, FILLINGS = "cylinders", "fillings"

_TAG = Element(
    "tag",
    "电子标签 / identity tag",
    ("电子标签", "电子标签号", "气瓶标签", "标签号", "气瓶编码", "气瓶条码", "tag"),
    required=True,
)

CYLINDER_ELEMENTS = (
    _TAG,
    Element("maker_name", "制造单位 / maker", ("制造单位", "制造单位名称", "制造厂", "maker", "maker_name"), required=True),
    Element("maker_code", "制造单位代码 / maker code", ("制造单位代码", "制造厂代码", "maker_code"), CODE),
    Element("serial_number", "出厂编号 / serial number", ("出厂编号", "气瓶出厂编号", "钢印编号", "serial_number"), required=True),
    Element("made_on", "制造日期 / manufactured", ("制造日期", "出厂日期", "made_on"), DATE, True),
    Element("kind", "气瓶类别 / type", ("气瓶类别", "气瓶类型", "气瓶品种", "kind", "type"), required=True),
    Element("volume_l", "公称容积 (L) / volume (L)", ("公称容积", "公称容积L", "容积", "volume", "volume_l"), NUMBER, True),
    Element(
        "working_pressure_mpa",
        "公称工作压力 (MPa) / working pressure (MPa)",
        ("公称工作压力", "公称工作压力MPa", "工作压力", "working_pressure", "working_pressure_mpa"),
        NUMBER,
        True,
    ),
    Element("design_life_years", "设计使用年限 / design life (years)", ("设计使用年限", "设计年限", "使用年限", "design_life_years"), INTEGER),
    Element("scrap_on", "报废日期 / scrap date", ("报废日期", "判废日期", "scrap_on", "scrap_date"), DATE),
    Element("last_inspected_on", "上次检验日期 / last inspected", ("上次检验日期", "最近检验日期", "last_inspected_on"), DATE),
    Element("next_inspection_due", "下次检验日期 / next inspection due", ("下次检验日期", "下检日期", "next_inspection_due"), DATE),
    Element(
        "station_credit_code",
        "产权（充装）单位统一社会信用代码 / owning station credit code",
        ("产权单位统一社会信用代码", "产权单位信用代码", "充装单位统一社会信用代码", "充装单位信用代码",
         "统一社会信用代码", "信用代码", "station_credit_code"),
        CODE,
        True,
    ),
    Element("status", "状态 / status", ("气瓶状态", "状态", "status")),
)  # fmt: skip

FILLING_ELEMENTS = (
    _TAG,
    Element(
        "station_credit_code",
        "充装单位统一社会信用代码 / station credit code",
        ("充装单位统一社会信用代码", "充装单位信用代码", "统一社会信用代码", "信用代码", "station_credit_code"),
        CODE,
        True,
    ),
    Element("filled_at", "充装时间 / filled at", ("充装时间", "充装日期时间", "充装日期", "filled_at"), DATE, True),
    Element("medium", "充装介质 / medium", ("充装介质", "介质", "气体名称", "medium"), required=True),
    Element("quantity_kg", "充装量 (kg) / quantity (kg)", ("充装量", "充装量kg", "充装重量", "quantity_kg", "quantity"), NUMBER, True),
    Element("check_result", "充装前检查 / pre-fill check", ("充装前检查", "充装前检查结果", "瓶检结果", "检查结果", "check_result"), required=True),
    Element(
        "operator_certificate",
        "作业人员证号 / operator certificate",
        ("作业人员证号", "充装人员证号", "作业人员证书编号", "操作证号", "operator_certificate"),
        required=True,
    ),
)  # fmt: skip

KINDS = choice_table(
    CylinderKind,
    industrial=("工业", "工业用"),
    lpg=("液化石油气", "液化气", "液化石油气瓶"),
    cng=("车用气瓶", "压缩天然气", "CNG气瓶"),
    medical=("医用", "医用氧", "医用氧气瓶"),
    acetylene=("乙炔", "溶解乙炔", "乙炔瓶"),
    other=("其它",),
)
STATUSES = choice_table(
    CylinderStatus,
    in_service=("使用", "正常"),
    overdue=("超期", "逾期未检"),
    scrapped=("已报废", "判废"),
    lost=("遗失",),
)
# The column a violation's report line points at: what the rule is about.
VIOLATION_ELEMENTS = {
    rules.Rule.CHECK_FAILED: "check_result",
    rules.Rule.LICENCE_EXPIRED: "station_credit_code",
}
# Field sizes of the register (models.Cylinder), checked here so a long cell is a report line.
TEXT_LIMITS = {"tag": 64, "maker_name": 128, "maker_code": 16, "serial_number": 32}
# (digits, decimal places) of the numeric columns.
NUMBER_SIZES = {"volume_l": (7, 1), "working_pressure_mpa": (6, 2)}


def register() -> None:
    """Offer both datasets in the import pipeline (called by CylindersConfig.ready())."""
    from registry.importers.datasets import register_dataset

    register_dataset(
        CYLINDERS,
        "气瓶 / gas cylinders",
        elements=CYLINDER_ELEMENTS,
        importer=import_cylinders,
        # The scrap date is stamped, or follows from the design life.
        either=(("design_life_years", "scrap_on"),),
    )
    register_dataset(
        FILLINGS, "充装记录 / filling records", elements=FILLING_ELEMENTS, importer=import_fillings
    )


# --------------------------------------------------------------------------- shared


def _text(row: Row, name: str) -> str | None:
    value = row.get(name)
    limit = TEXT_LIMITS.get(name)
    if value is not None and limit and len(value) > limit:
        row.error(name, f"{name}.length", f"最多 {limit} 个字符 / at most {limit} characters")
    return value


def _decimal(row: Row, name: str) -> Decimal | None:
    value = row.get(name, cells.number)
    if value is None:
        return None
    digits, places = NUMBER_SIZES[name]
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    if not Decimal(0) < amount < Decimal(10) ** (digits - places):
        row.error(
            name,
            f"{name}.range",
            f"应大于 0 且小于 {10 ** (digits - places)} / expected above 0 and below "
            f"{10 ** (digits - places)}",
        )
        return None
    return amount


def _station(row: Row, acting_user) -> Unit | None:
    """The filling station the row names by credit code, among the units the user may see: one
    outside the jurisdiction is answered like an unknown one (nothing of it is told)."""
    code = row.get("station_credit_code", cells.code)
    if not code:
        return None
    station = scoped(Unit.objects, acting_user).filter(credit_code=code).first()
    if station is None:
        row.error(
            "station_credit_code",
            "station.unknown",
            f"辖区内没有信用代码为 {code} 的单位 / no unit with credit code {code} in your "
            "jurisdiction",
            "先导入充装单位 / import the filling station as a unit first",
        )
        return None
    if UnitRole.FILLING not in station.roles:
        row.error(
            "station_credit_code",
            "station.role",
            "该单位不是充装单位 / the unit is not a filling station",
        )
        return None
    return station


# --------------------------------------------------------------------------- cylinders


def import_cylinders(
    rows: RowReader, request: ImportRequest, *, acting_user, commit: bool, progress
) -> ImportOutcome:
    """The register: a new tag is registered to its station, a known one of the jurisdiction
    compared and updated; a tag registered outside the jurisdiction is refused."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        tag = _text(row, "tag")
        fields: dict[str, Any] = {
            "maker_name": _text(row, "maker_name"),
            "maker_code": _text(row, "maker_code"),
            "serial_number": _text(row, "serial_number"),
            "made_on": row.get("made_on", cells.date),
            "kind": row.choice("kind", KINDS, CylinderKind),
            "volume_l": _decimal(row, "volume_l"),
            "working_pressure_mpa": _decimal(row, "working_pressure_mpa"),
            "design_life_years": row.get("design_life_years", cells.integer),
            "scrap_on": row.get("scrap_on", cells.date),
            "last_inspected_on": row.get("last_inspected_on", cells.date),
            "next_inspection_due": row.get("next_inspection_due", cells.date),
            "status": row.choice("status", STATUSES, CylinderStatus),
        }
        station = _station(row, acting_user)
        made_on, scrap_on, life = fields["made_on"], fields["scrap_on"], fields["design_life_years"]
        if made_on and scrap_on and scrap_on <= made_on:
            row.error(
                "scrap_on", "scrap_on.before_made",
                "报废日期须晚于制造日期 / the scrap date must be after the manufacture date",
            )  # fmt: skip
        if life is not None and not 0 < life < 100:
            row.error("design_life_years", "design_life_years.range",
                      "应为 1–99 年 / expected 1 to 99 years")  # fmt: skip
        if row.failed or station is None or not tag:
            return None
        if not row.once(seen, ("tag", tag), "tag", "只气瓶 / cylinder"):
            return None
        if life is None and scrap_on is not None:
            # The stamped scrap date stands; the life is its whole years since manufacture.
            life = max(1, scrap_on.year - made_on.year)
        wanted = {name: value for name, value in fields.items() if value is not None}
        if life is not None:
            wanted["design_life_years"] = life
        existing = Cylinder.objects.select_for_update().filter(tag=tag).first()
        if existing is not None and not visible(existing, acting_user):
            # Another jurisdiction's cylinder: the tag is taken, and nothing more is said.
            row.error("tag", "tag.duplicate", "电子标签已登记 / identity tag already registered")
            return None
        if existing is None and life is None:
            row.error(
                "design_life_years", "design_life_years.required",
                "须填写设计使用年限或报废日期 / give the design life or the scrap date",
            )  # fmt: skip
            return None
        if existing is None:
            services.register_cylinder(acting_user=acting_user, owner=station, tag=tag, **wanted)
            return NEW
        if not allowed(row, acting_user, station.region_id):
            return None
        wanted.update(owner_id=station.pk, region_id=station.region_id)
        if "scrap_on" not in wanted and life is not None and "made_on" in wanted:
            wanted["scrap_on"] = services.years_later(wanted["made_on"], life)
        changes = differences(existing, wanted)
        if not changes:
            return UNCHANGED
        scrap = changes.get("scrap_on", existing.scrap_on)
        if scrap <= changes.get("made_on", existing.made_on):
            row.error(
                "scrap_on", "scrap_on.before_made",
                "报废日期须晚于制造日期 / the scrap date must be after the manufacture date",
            )  # fmt: skip
            return None
        update_record(
            existing, changes, acting_user=acting_user, action="cylinder.updated",
            exchanged=False, region_code=station.region_id,
        )  # fmt: skip
        return CHANGED

    def guarded(row: Row, seen: dict[tuple, int]) -> str | None:
        try:
            return write(row, seen)
        except DomainError as error:  # the cylinder services' refusals name their field
            row.refused(error)
            return None

    return run_dataset(rows, request, progress, guarded)


# --------------------------------------------------------------------------- fillings


def import_fillings(
    rows: RowReader, request: ImportRequest, *, acting_user, commit: bool, progress
) -> ImportOutcome:
    """Filling records: each row read as the endpoint reads a batch's row, then each station's
    rows stored as one batch (of at most services.MAX_BATCH) through services.record_fillings.
    A filling already recorded (station + tag + time) is counted unchanged and adds nothing; the
    rules a new one breaks are warnings on its row (recorded as violations, as by the endpoint)."""
    pending: dict[int, tuple[Unit, list[tuple[Row, dict]]]] = {}

    def read(row: Row, seen: dict[tuple, int]) -> None:
        payload = {
            "tag": row.get("tag"),
            "medium": row.get("medium"),
            "operator_certificate": row.get("operator_certificate"),
            "quantity_kg": cells.text(row.raw("quantity_kg")),
            "check_result": (row.get("check_result") or "").lower(),
        }
        # Excel's datetimes and serials, "2026/3/10 9:30", "2026年3月10日9时30分": as accidents read them.
        filled_at = row.get("filled_at", moment)
        payload["filled_at"] = filled_at.isoformat() if filled_at else None
        station = _station(row, acting_user)
        if row.failed or station is None:
            return None
        try:
            (parsed,) = services.parse_fillings([payload])
        except DomainError as error:
            for finding in error.findings:
                # `fillings[0].quantity_kg` → the quantity_kg element's column
                row.add(finding, element=finding.field.rpartition(".")[2])
            return None
        if not row.once(seen, (station.pk, parsed.tag, parsed.filled_at), "filled_at",
                        "次充装 / filling"):  # fmt: skip
            return None
        pending.setdefault(station.pk, (station, []))[1].append((row, payload))
        return None

    outcome = run_dataset(rows, request, progress, read)
    counts: dict[str, int] = defaultdict(int)
    for station, batch in pending.values():
        for start in range(0, len(batch), services.MAX_BATCH):
            chunk = batch[start : start + services.MAX_BATCH]
            try:
                report = services.record_fillings(
                    station, [payload for _, payload in chunk], acting_user=acting_user
                )
            except DomainError as error:
                for row, _ in chunk:
                    row.refused(error, element="station_credit_code")
                continue
            for (row, _), result in zip(chunk, report.rows, strict=True):
                if result["status"] == "duplicate":
                    counts[UNCHANGED] += 1
                    continue
                counts[NEW] += 1
                for rule in result["violations"]:
                    zh, _, en = rules.label(rule).partition(" / ")
                    row.add(
                        Finding(
                            VIOLATION_ELEMENTS.get(rule, "tag"),
                            f"filling.{rule}",
                            f"充装违规（已记录）：{zh} / violation recorded: {en}",
                            WARNING,
                        )
                    )
    outcome.new += counts[NEW]
    outcome.unchanged += counts[UNCHANGED]
    return outcome


__all__ = ["import_cylinders", "import_fillings", "register"]
