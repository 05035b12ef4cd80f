"""The bodies' results from a file, through the registry's import pipeline (dry run, per-row
report: registry/importers). Each row is read into the feed's record and each body's rows go
through feed.receive_batch, the endpoint's path: the same scope, the same idempotence by report
number, the same services. Registered in InspectionsConfig.ready()."""

from __future__ import annotations

from registry.importers import cells
from registry.importers.elements import CODE, DATE, INTEGER, Element
from registry.importers.pipeline import ImportOutcome, ImportRequest
from registry.importers.readers import RowReader
from registry.importers.records.common import Row, run_dataset, scoped
from registry.models import Unit, UnitRole

from . import feed
from .models import RecordStatus, Via

DATASET = "inspfeed"

ELEMENTS = (
    Element("body_credit_code", "检验机构统一社会信用代码 / inspection body credit code",
            ("检验机构统一社会信用代码", "检验机构信用代码", "body_credit_code"), CODE, True),
    Element("report_number", "报告编号 / report number", ("报告编号", "检验报告编号", "report_number"), CODE, True),
    Element("kind", "检验类别 / kind (periodic, supervisory)", ("检验类别", "检验类型", "kind"), required=True),
    Element("device_code", "设备代码或注册代码 / device or registration code",
            ("设备代码", "注册代码", "device_code"), CODE, True),
    Element("inspected_on", "检验日期 / date", ("检验日期", "inspected_on"), DATE, True),
    Element("conclusion", "检验结论 / conclusion (pass, conditional, fail)", ("检验结论", "结论", "conclusion"), required=True),
    Element("stage", "监督检验阶段 / stage", ("监督检验阶段", "阶段", "stage")),
    Element("certificate_number", "监督检验证书编号 / certificate number",
            ("监督检验证书编号", "证书编号", "certificate_number"), CODE),
    Element("defects", "问题数 / defects", ("问题数", "缺陷数", "defects"), INTEGER),
    Element("defect_notes", "问题描述 / defect notes", ("问题描述", "defect_notes")),
)  # fmt: skip

KIND_WORDS = {
    "定期检验": "periodic",
    "定期": "periodic",
    "监督检验": "supervisory",
    "监检": "supervisory",
}
CONCLUSION_WORDS = {
    "合格": "pass",
    "基本符合要求": "conditional",
    "复检合格": "conditional",
    "不合格": "fail",
}
STAGE_WORDS = {
    "制造": "manufacture",
    "安装": "installation",
    "改造": "modification",
    "重大修理": "major_repair",
}


def register() -> None:
    """Offer the dataset in the import pipeline (called by InspectionsConfig.ready())."""
    from registry.importers.datasets import register_dataset

    register_dataset(
        DATASET, "检验机构检验结果 / inspection bodies' results", elements=ELEMENTS,
        importer=import_results,
    )  # fmt: skip


def _body(row: Row, acting_user) -> Unit | None:
    """The body the row names, among the units the user may see (one outside is as unknown)."""
    code = row.get("body_credit_code", cells.code)
    if not code:
        return None
    body = scoped(Unit.objects, acting_user).filter(credit_code=code).first()
    if body is None or UnitRole.INSPECTION not in body.roles:
        row.error(
            "body_credit_code", "body.unknown",
            f"辖区内没有信用代码为 {code} 的检验机构 / no inspection body {code} in your jurisdiction",
        )  # fmt: skip
        return None
    return body


def _word(value: str | None, words: dict[str, str]) -> str:
    value = (value or "").strip()
    return words.get(value, value.lower())


def import_results(
    rows: RowReader, request: ImportRequest, *, acting_user, commit: bool, progress
) -> ImportOutcome:
    """Inspection and supervisory-inspection results: read per row, stored per body as a batch."""
    pending: dict[int, tuple[Unit, list[tuple[Row, dict]]]] = {}

    def read(row: Row, seen: dict[tuple, int]) -> None:
        body = _body(row, acting_user)
        inspected_on = row.get("inspected_on", cells.date)
        record = {
            "report_number": row.get("report_number", cells.code),
            "kind": _word(row.get("kind"), KIND_WORDS),
            "device_code": row.get("device_code", cells.code),
            "inspected_on": inspected_on.isoformat() if inspected_on else None,
            "conclusion": _word(row.get("conclusion"), CONCLUSION_WORDS),
            "stage": _word(row.get("stage"), STAGE_WORDS) or None,
            "certificate_number": row.get("certificate_number", cells.code),
            "defects": row.get("defects", cells.integer) or 0,
            "defect_notes": row.get("defect_notes"),
        }
        if row.failed or body is None:
            return None
        if not row.once(
            seen, (body.pk, record["report_number"]), "report_number", "份报告 / report"
        ):
            return None
        pending.setdefault(body.pk, (body, []))[1].append((row, record))
        return None

    outcome = run_dataset(rows, request, progress, read)
    for body, batch in pending.values():
        for start in range(0, len(batch), feed.MAX_BATCH):
            chunk = batch[start : start + feed.MAX_BATCH]
            report = feed.receive_batch(
                body, [record for _, record in chunk], acting_user=acting_user, via=Via.FILE
            )
            for (row, _), result in zip(chunk, report.records, strict=True):
                if result["status"] == RecordStatus.ACCEPTED:
                    outcome.new += 1
                elif result["status"] == RecordStatus.DUPLICATE:
                    outcome.unchanged += 1
                else:
                    for field, items in result["errors"].items():
                        for item in items:
                            row.error(
                                field, item["rule"], item["message"], item.get("suggestion", "")
                            )
    return outcome


__all__ = ["import_results", "register"]
