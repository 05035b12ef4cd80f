"""Files for the record importers' tests, made here in the formats provinces send, and a runner that
imports one through the pipeline the way the page and the command do."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import openpyxl

from geo import crs
from registry.importers.intake import store_upload
from registry.importers.mapping import suggest_mapping
from registry.importers.pipeline import ImportOutcome, ImportRequest, run_import
from registry.importers.readers import open_rows


def csv_bytes(
    header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8"
) -> bytes:
    lines = [",".join(header), *(",".join("" if v is None else str(v) for v in r) for r in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def geojson_bytes(features: Sequence[tuple[float, ...] | tuple[Any, ...]]) -> bytes:
    """Points at (lon, lat[, height]) with properties last, as a web map's export writes them
    (no crs member)."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(feature[:-1])},
                "properties": feature[-1],
            }
            for feature in features
        ],
    }
    return json.dumps(collection, ensure_ascii=False).encode("utf-8")


def run(
    data: bytes,
    name: str,
    dataset: str,
    user,
    *,
    commit: bool = True,
    source_crs: crs.CRS = crs.CRS.WGS84,
    mapping: dict[str, str] | None = None,
) -> ImportOutcome:
    """Store the bytes, map the columns by their headers, import."""
    upload = store_upload(data, name)
    if mapping is None:
        with open_rows(upload) as rows:
            mapping = suggest_mapping(rows.columns, dataset)
    request = ImportRequest(dataset=dataset, mapping=mapping, source_crs=source_crs)
    return run_import(upload, request, acting_user=user, commit=commit)


def lines(outcome: ImportOutcome) -> list[tuple[int, str, str, str]]:
    """The report as (row, column, rule, severity)."""
    return [(f.row, f.column, f.rule, f.severity) for f in outcome.findings]
