"""An import job's report as a file: CSV (UTF-8 with a BOM, so Excel shows the Chinese) or XLSX.

One row per finding, in the file's row order; the XLSX has a second sheet with the summary.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from common.spreadsheets import neutralise

from ..models.imports import ImportFinding, ImportJob

HEADER = ("行 row", "列 column", "值 value", "级别 severity", "规则 rule", "说明 message",
          "建议 suggestion")  # fmt: skip
FIELDS = ("row", "column", "value", "severity", "rule", "message", "suggestion")
SEVERITIES = {"error": "错误 error", "warning": "警告 warning"}
SUMMARY = (
    ("rows", "行数 rows"),
    ("errors", "错误 errors"),
    ("warnings", "警告 warnings"),
    ("new", "新增 new"),
    ("changed", "变更 changed"),
    ("unchanged", "未变 unchanged"),
    ("units_new", "新增单位 new units"),
    ("seconds", "用时（秒）seconds"),
    ("rows_per_second", "行/秒 rows/s"),
)
FINDINGS_SHEET = "问题 - findings"  # a sheet name may not hold "/"
SUMMARY_SHEET = "汇总 - summary"
WIDTHS = (8, 22, 24, 12, 22, 60, 40)
BATCH = 5_000


def report_name(job: ImportJob, extension: str) -> str:
    stem = job.original_name.rsplit(".", 1)[0] or "import"
    return f"{stem}-导入报告-{job.pk}.{extension}"


def _rows(job: ImportJob) -> Iterator[tuple]:
    findings = ImportFinding.objects.filter(job=job).order_by("row", "id").values_list(*FIELDS)
    for row in findings.iterator(chunk_size=BATCH):
        # The value is the uploaded cell as it was: a formula in it must not run in the reader's
        # spreadsheet (nor a message that quotes it).
        yield tuple(neutralise(v) for v in (*row[:3], SEVERITIES.get(row[3], row[3]), *row[4:]))


def report_csv(job: ImportJob) -> Iterator[bytes]:
    """The CSV in pieces, for a streaming response: a BOM, the header, the findings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    yield _drain(buffer)
    for count, row in enumerate(_rows(job), 1):
        writer.writerow(row)
        if count % 1000 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


def report_xlsx(job: ImportJob, destination) -> None:
    """The workbook, written row by row (write-only mode) to a path or a binary file."""
    # openpyxl loads with the first XLSX report, not when Django starts.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    sheet = book.create_sheet(FINDINGS_SHEET)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.append([_bold(sheet, title, bold) for title in HEADER])
    for row in _rows(job):
        sheet.append(row)
    summary = book.create_sheet(SUMMARY_SHEET)
    summary.freeze_panes = "A2"
    summary.column_dimensions["A"].width = 22
    summary.column_dimensions["B"].width = 40
    summary.append([_bold(summary, "项目 item", bold), _bold(summary, "值 value", bold)])
    summary.append(["文件 file", job.original_name])
    summary.append(["状态 state", job.get_state_display()])
    for key, label in SUMMARY:
        if key in job.summary:
            summary.append([label, job.summary[key]])
    book.save(destination)


def _bold(sheet, value: str, font):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell
