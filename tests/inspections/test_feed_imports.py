"""The bodies' results from a file: the feed's path (scope, idempotence by report number), with the
import pipeline's per-row report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inspections.models import FeedBatch, SupervisoryInspection
from registry.models import Inspection
from tests.conftest import XIXIA
from tests.registry.importers.record_files import csv_bytes, lines, run

HEADER = ["检验机构统一社会信用代码", "报告编号", "检验类别", "设备代码", "检验日期", "检验结论",
          "监督检验阶段", "监督检验证书编号"]  # fmt: skip


@pytest.fixture(autouse=True)
def import_root(settings, tmp_path):
    settings.IMPORT_ROOT = tmp_path / "imports"


def row(body, device, number, kind="定期检验", conclusion="合格", stage="", certificate=""):
    day = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    code = device if isinstance(device, str) else device.device_code
    return [body.credit_code, number, kind, code, day, conclusion, stage, certificate]


def results(user, rows, *, commit=True):
    return run(csv_bytes(HEADER, rows), "检验结果.csv", "inspfeed", user, commit=commit)


def test_a_file_of_results_goes_in_through_the_feed(users, body, make_equipment):
    device = make_equipment()
    outcome = results(users["xingqing"], [
        row(body, device, "F1"),
        row(body, device, "F2", kind="监督检验", stage="安装", certificate="JD-9"),
    ])  # fmt: skip
    assert outcome.findings == [] and outcome.committed
    assert outcome.headline().startswith("2 new")
    assert Inspection.objects.get().report_number == "F1"
    assert SupervisoryInspection.objects.get().stage == "installation"
    assert FeedBatch.objects.get().via == "file"


def test_reimporting_changes_nothing(users, body, make_equipment):
    rows = [row(body, make_equipment(), "F1")]
    results(users["xingqing"], rows)
    again = results(users["xingqing"], rows)
    assert again.findings == [] and "1 unchanged" in again.headline()
    assert Inspection.objects.count() == 1


def test_a_refused_record_is_reported_on_its_row(users, body, make_equipment):
    theirs = make_equipment(XIXIA)  # outside the county supervisor's jurisdiction
    outcome = results(users["xingqing"], [row(body, theirs, "F1")], commit=False)
    assert [(r, rule) for r, _, rule, _ in lines(outcome)] == [(2, "device.out_of_scope")]
    assert not Inspection.objects.exists()


def test_a_dry_run_stores_nothing(users, body, make_equipment):
    results(users["xingqing"], [row(body, make_equipment(), "F1")], commit=False)
    assert not Inspection.objects.exists() and not FeedBatch.objects.exists()
