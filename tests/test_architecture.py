"""The shape of the project (docs/architecture.md): apps import downwards only and never another
app's views (import-linter's contracts in pyproject.toml), and no module takes another module's
private names."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
APPS = ("common", "geo", "accounts", "registry", "layers", "maps", "exports", "ogcapi", "response")
APPS += ("patrol", "analysis", "config")


def test_the_import_contracts_are_kept():
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def private_imports(source: str, name: str) -> list[str]:
    """`from module import _name` in one file's source: a private name used outside its module."""
    return [
        f"{name}:{node.lineno} {alias.name}"
        for node in ast.walk(ast.parse(source, name))
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_imports_private_names():
    files = [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]
    assert len(files) > 100
    found = [
        line for f in files for line in private_imports(f.read_text(), str(f.relative_to(ROOT)))
    ]
    assert found == []


def test_the_private_name_check_sees_an_offence():
    source = "from __future__ import annotations\nfrom maps.api import _reader, private\n"
    assert private_imports(source, "offender.py") == ["offender.py:2 _reader"]
