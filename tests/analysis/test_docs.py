"""docs/analysis.md's definitions table names every indicator the desk computes, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from analysis.indicators import INDICATORS

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def test_the_definitions_table_lists_every_indicator():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    listed = {key: name.strip() for key, name in rows if not key.startswith(("GET", "/"))}
    # The table names each in both languages (data kept for both; pages show the request's).
    assert listed == {i.key: f"{i.name_zh} / {i.name_en}" for i in INDICATORS}
