"""docs/analysis.md's definitions table names every indicator the desk computes, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from analysis.indicators import INDICATORS

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def test_the_definitions_table_lists_every_indicator():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    listed = {key: name.strip() for key, name in rows if not key.startswith(("GET", "/"))}
    assert listed == {i.key: i.name for i in INDICATORS}
