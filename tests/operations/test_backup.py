"""Backup and restore for real: pg_dump of the test database, pg_restore into a throwaway database
of the same server, the manifest checked, the change log's chain verified; tampering refused."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import User
from exports.models import ExportJob
from operations import backup, pg
from registry.models import Equipment
from registry.models.exchange import ChangeEntry
from tests.conftest import XIXIA, load_test_regions


@pytest.fixture
def restore_name():
    name = f"{connection.settings_dict['NAME']}_restore"
    backup.drop_database(name)
    yield name
    backup.drop_database(name)


@pytest.fixture
def kept_files(settings, tmp_path):
    """An export still valid, one expired, and an upload, in roots of their own."""
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.IMPORT_ROOT = tmp_path / "imports"
    requester = User.objects.create_user("backup-test", password="pw-for-tests")
    for name, expires in (
        ("valid.gpkg", dt.timedelta(hours=1)),
        ("old.csv", -dt.timedelta(hours=1)),
    ):
        path = settings.EXPORT_ROOT / "jobs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"export {name}".encode())
        ExportJob.objects.create(
            requester=requester, parameters={}, estimate=1, state=ExportJob.State.DONE,
            file_path=f"jobs/{name}", expires_at=timezone.now() + expires,
        )  # fmt: skip
    upload = settings.IMPORT_ROOT / "7" / "devices.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("device_code\n3110T1234202000001\n")
    return settings


@pytest.fixture
def registry_rows(transactional_db, make_equipment):
    load_test_regions()  # a transactional test before this one flushed them
    for _ in range(3):
        make_equipment()
    make_equipment(XIXIA)


def restored_count(database: str, table: str) -> int:
    with pg.connect(database) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def database_exists(name: str) -> bool:
    with pg.connect("postgres") as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def test_backup_then_restore_compares_equal(registry_rows, kept_files, restore_name, tmp_path):
    call_command("backup", str(tmp_path / "bk"), verbosity=0)
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())

    assert manifest["tables"]["public.registry_equipment"] == Equipment.objects.count() == 4
    assert manifest["tables"]["public.registry_changeentry"] == ChangeEntry.objects.count() > 0
    kept = {(f["root"], f["path"]) for f in manifest["files"]}
    assert kept == {("exports", "jobs/valid.gpkg"), ("imports", "7/devices.csv")}  # not the expired
    assert manifest["versions"]["postgresql"].startswith("PostgreSQL")

    call_command("restore", str(tmp_path / "bk"), database=restore_name,
                 files_to=str(tmp_path / "restored"), verbosity=0)  # fmt: skip

    assert restored_count(restore_name, "registry_equipment") == 4
    with pg.connect(restore_name) as conn:
        head = conn.execute("SELECT last_seq, last_hash FROM registry_changeloghead").fetchone()
    assert list(head) == [manifest["change_log"]["last_seq"], manifest["change_log"]["last_hash"]]
    assert head[0] == ChangeEntry.objects.count()
    assert (tmp_path / "restored" / "exports" / "jobs" / "valid.gpkg").read_bytes() == (
        kept_files.EXPORT_ROOT / "jobs" / "valid.gpkg"
    ).read_bytes()
    assert not (tmp_path / "restored" / "exports" / "jobs" / "old.csv").exists()
    assert (tmp_path / "restored" / "imports" / "7" / "devices.csv").is_file()

    # A second restore never writes over a database (the one just restored, or the live one).
    for existing in (restore_name, connection.settings_dict["NAME"]):
        with pytest.raises(CommandError, match=f"database {existing} exists already"):
            call_command("restore", str(tmp_path / "bk"), database=existing,
                         files_to=str(tmp_path / "again"), verbosity=0)  # fmt: skip
    assert restored_count(restore_name, "registry_equipment") == Equipment.objects.count() == 4


def test_a_damaged_backup_is_refused_and_leaves_nothing(
    registry_rows, kept_files, restore_name, tmp_path
):
    call_command("backup", str(tmp_path / "bk"), verbosity=0)
    restore = {"database": restore_name, "files_to": str(tmp_path / "restored"), "verbosity": 0}
    # A file changed: refused before anything is restored.
    damaged = tmp_path / "bk" / "files" / "exports" / "jobs" / "valid.gpkg"
    good = damaged.read_bytes()
    damaged.write_bytes(good + b"!")
    with pytest.raises(CommandError, match="checksum mismatch: files/exports/jobs/valid.gpkg"):
        call_command("restore", str(tmp_path / "bk"), **restore)
    assert not database_exists(restore_name)
    assert not (tmp_path / "restored").exists()
    damaged.write_bytes(good)

    # A count the restored database does not have: restored, found wrong, removed again.
    path = tmp_path / "bk" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["public.registry_equipment"] += 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="row count differs: public.registry_equipment backup 5"):
        call_command("restore", str(tmp_path / "bk"), **restore)
    assert not database_exists(restore_name)
    assert not (tmp_path / "restored").exists()


def test_a_broken_hash_chain_fails_the_restore(registry_rows, kept_files, restore_name, tmp_path):
    # An entry changed after it was chained: what a tampered or corrupted log looks like.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_changeentry SET payload = payload || ' ' WHERE seq = 2")
    call_command("backup", str(tmp_path / "bk"), verbosity=0)

    with pytest.raises(CommandError, match="hash chain fails"):
        call_command("restore", str(tmp_path / "bk"), database=restore_name,
                     files_to=str(tmp_path / "restored"), verbosity=0)  # fmt: skip
    assert not database_exists(restore_name)


def test_backup_refuses_a_directory_with_files(tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "something").write_text("x")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("backup", str(tmp_path / "bk"), verbosity=0)


@pytest.mark.django_db
def test_the_change_log_verifier_passes_a_whole_chain(make_equipment, capsys):
    make_equipment()
    make_equipment(XIXIA)
    call_command("verify_changelog")
    assert f"{ChangeEntry.objects.count()} entries" in capsys.readouterr().out


@pytest.mark.django_db
def test_psycopg_reads_the_url_the_child_process_gets():
    with psycopg.connect(
        pg.url(connection.settings_dict["NAME"]).replace("postgis://", "postgresql://")
    ) as conn:
        assert (
            conn.execute("SELECT current_database()").fetchone()[0]
            == connection.settings_dict["NAME"]
        )
    assert Path(pg.tool("pg_dump", connection.pg_version // 10000)).name == "pg_dump"
