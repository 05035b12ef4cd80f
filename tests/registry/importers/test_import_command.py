"""`manage.py import_records`: a dry run by default, --commit writes, exit status 1 on errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import Equipment
from tests.conftest import XINGQING, XIXIA
from tests.registry.importers.equipment_rows import csv_file, device_row

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, rows: list[dict], name: str = "设备.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(csv_file(rows).getvalue())
    return path


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_records", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_a_dry_run_prints_the_mapping_and_the_headline_and_writes_nothing(tmp_path, users):
    path = write(tmp_path, [device_row(n) for n in range(1, 4)])
    out, _ = run(str(path), "--dataset", "equipment", "--user", "xingqing")
    assert "mapping: device_code=设备代码" in out and "variety=设备品种代码" in out
    assert "dry run: 3 new, 0 changed, 0 unchanged" in out
    assert "3 rows, 0 errors, 0 warnings" in out and "rows/s" in out
    assert not Equipment.objects.exists()


def test_commit_writes_and_the_same_file_again_changes_nothing(tmp_path, users):
    path = write(tmp_path, [device_row(n) for n in range(1, 4)])
    out, _ = run(str(path), "--user", "xingqing", "--commit", "--crs", "wgs84")
    assert "committed: 3 new, 0 changed, 0 unchanged" in out
    assert Equipment.objects.filter(region_id=XINGQING).count() == 3
    out, _ = run(str(path), "--user", "xingqing", "--commit")
    assert "committed: 0 new, 0 changed, 3 unchanged" in out


def test_errors_exit_1_with_a_report_and_commit_nothing(tmp_path, users):
    rows = [device_row(1), device_row(2, XIXIA), device_row(3, **{"设备品种代码": "9999"})]
    path = write(tmp_path, rows)
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit) as exit:
        run(str(path), "--user", "xingqing", "--commit", "--report", str(report))
    assert exit.value.code == 1
    assert not Equipment.objects.exists()
    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert lines[0][0] == "行 row"
    assert {line[0] for line in lines[1:] if line[3] == "错误 error"} == {"3", "4"}


def test_map_overrides_the_suggestion(tmp_path, users):
    path = write(tmp_path, [device_row(1)])
    out, _ = run(str(path), "--user", "xingqing", "--map", "address=维保单位名称")
    assert "address=维保单位名称" in out and "address=设备使用地点" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crs", "mars"], "Unknown coordinate system"),
        (["--map", "variety"], "ELEMENT=COLUMN"),
        (["--map", "variety=没有这列"], "mapping"),
        (["--user", "nobody"], "no such user"),
    ],
)
def test_bad_arguments_are_command_errors(tmp_path, users, args, message):
    path = write(tmp_path, [device_row(1)])
    with pytest.raises(CommandError, match=message):
        run(str(path), *args)
