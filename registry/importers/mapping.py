"""Column mapping: which of a file's columns holds which data element.

A mapping is `{element name: column title}`. `suggest_mapping` proposes one from the headers (and
the mapping saved for the same source, which wins where its columns are still there);
`check_mapping` says what is wrong with one before any row is read.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..validators import Finding
from .elements import LAT, LON, either_of, elements_of, header_key

FIELD = "mapping"


def suggest_mapping(
    columns: Iterable[str], dataset: str, saved: dict[str, str] | None = None
) -> dict[str, str]:
    """The file's columns matched to elements: the saved mapping first, then recognised headers."""
    columns = list(columns)
    mapping = {
        name: column for name, column in (saved or {}).items() if column in columns and column
    }
    taken = set(mapping.values())
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(header_key(column), column)
    for item in elements_of(dataset):
        if item.name in mapping:
            continue
        for header in (item.name, *item.headers):
            column = by_key.get(header_key(header))
            if column is not None and column not in taken:
                mapping[item.name] = column
                taken.add(column)
                break
    return mapping


def check_mapping(
    mapping: dict[str, str], columns: Iterable[str], dataset: str, *, has_geometry: bool = False
) -> list[Finding]:
    """Errors in a mapping: unknown elements or columns, a required element left out, half a coordinate."""
    columns = set(columns)
    known = {item.name: item for item in elements_of(dataset)}
    findings = []
    for name, column in mapping.items():
        if name not in known:
            findings.append(
                _error("mapping.element", f"未知的数据项 / unknown data element {name!r}")
            )
        elif column not in columns:
            findings.append(
                _error(
                    "mapping.column",
                    f"文件中没有列 {column!r}（{known[name].label}）/ the file has no column {column!r}",
                )
            )
    mapped = {name for name, column in mapping.items() if column}
    if has_geometry:
        mapped |= {"lon", "lat"}  # the layer's own geometry places the rows
    for item in known.values():
        if item.required and item.name not in mapped:
            findings.append(
                _error("mapping.required", f"必须映射 {item.label} / map a column to {item.label}")
            )
    for group in either_of(dataset):
        if not mapped & set(group):
            labels = " / ".join(known[name].label for name in group)
            findings.append(
                _error(
                    "mapping.required", f"至少映射其一：{labels} / map at least one of: {labels}"
                )
            )
    coordinates = {item.name for item in known.values() if item.kind in (LON, LAT)}
    if coordinates and len(mapped & coordinates) == 1:
        findings.append(
            _error("mapping.coordinates", "经度和纬度须同时映射 / map both longitude and latitude")
        )
    return findings


def _error(rule: str, message: str) -> Finding:
    return Finding(FIELD, rule, message, "error")
