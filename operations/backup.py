"""Backup and restore: one consistent dump of the database, the files the application keeps, and a
manifest that a restore checks everything against (docs/backup.md).

Consistency: the row counts are taken in a REPEATABLE READ transaction whose snapshot pg_dump is
given (`--snapshot`), so the manifest describes exactly the rows in the dump. The exports copied are
the ones that snapshot says are done and not yet expired.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import django
import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q
from django.db.models.functions import Now
from psycopg import sql

from exports.models import ExportJob
from registry.models.exchange import GENESIS_HASH, ChangeLogHead

from . import pg

FORMAT = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
FILES = "files"
CHUNK = 1 << 20

# Every ordinary table and partition outside the system's schemas (a partitioned parent holds no
# rows of its own: its partitions are counted).
TABLES_SQL = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%%'
    ORDER BY 1, 2
"""


class BackupError(Exception):
    """A backup or restore that cannot go on or did not verify; the message lists every problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def count_rows(cursor) -> dict[str, int]:
    """Rows of every table, as `schema.table`: exact counts, the manifest's promise."""
    cursor.execute(TABLES_SQL)
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {}.{}")
            .format(sql.Identifier(schema), sql.Identifier(table))
            .as_string(getattr(cursor, "connection", None))
        )
        counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


def _versions(cursor, pg_dump: str) -> dict[str, str]:
    cursor.execute("SELECT version(), current_setting('server_version_num')")
    server, _ = cursor.fetchone()
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    postgis = cursor.fetchone()
    try:
        segis = metadata.version("segis")
    except metadata.PackageNotFoundError:
        segis = "unknown"
    git = shutil.which("git")  # a deployment from a tarball has none: the commit is unknown
    commit = (
        subprocess.run(
            [git, "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        if git
        else ""
    )
    return {
        "segis": segis,
        "segis_commit": commit,
        "postgresql": server,
        "postgis": postgis[0] if postgis else "",
        "pg_dump": pg.version(pg_dump),
        "django": django.get_version(),
        "python": platform.python_version(),
    }


@dataclass
class FileRoot:
    """A directory of files the application keeps, and which of its files a backup takes."""

    name: str
    path: Path
    files: list[str] = field(default_factory=list)  # relative paths


def _valid_exports(using: str, root: Path) -> FileRoot:
    """The done exports not yet expired, as the dump's snapshot has them; scratch and expired
    files are the clean-up's (clean_exports), not the backup's."""
    wanted = (
        ExportJob.objects.using(using)
        .filter(state=ExportJob.State.DONE)
        .exclude(file_path="")
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=Now()))
        .order_by("file_path")
        .values_list("file_path", flat=True)
    )
    return FileRoot("exports", root, [p for p in wanted if (root / p).is_file()])


def _uploads(root: Path) -> FileRoot:
    found = (
        sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if root.is_dir()
        else []
    )
    return FileRoot("imports", root, found)


def make_backup(dest: Path, *, using: str = DEFAULT_DB_ALIAS, progress: Progress = _quiet) -> dict:
    """Dump the database and copy the kept files into `dest` (new or empty), with the manifest;
    returns the manifest. Run as the database's owner (maintenance commands are)."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError([f"{dest} 不是空目录 / {dest} is not empty"])
    dest.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = dt.datetime.now(dt.UTC)
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        # Must be the transaction's first statement: everything after reads one snapshot.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version_num')::int")
        snapshot, version_num = cursor.fetchone()
        pg_dump = pg.tool("pg_dump", version_num // 10000)
        versions = _versions(cursor, pg_dump)
        tick = time.monotonic()
        progress("counting rows")
        counts = count_rows(cursor)
        timings["count_rows"] = time.monotonic() - tick
        head = ChangeLogHead.objects.using(using).filter(pk=1).values_list(
            "last_seq", "last_hash"
        ).first() or (0, GENESIS_HASH)
        roots = [
            _valid_exports(using, Path(settings.EXPORT_ROOT)),
            _uploads(Path(settings.IMPORT_ROOT)),
        ]
        tick = time.monotonic()
        progress("pg_dump")
        subprocess.run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest / DUMP}"],
            env=pg.libpq_env(using=using),
            check=True,
            capture_output=True,
        )
        timings["pg_dump"] = time.monotonic() - tick
    tick = time.monotonic()
    progress("copying files")
    files = []
    for root in roots:
        for relative in root.files:
            source, target = root.path / relative, dest / FILES / root.name / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            files.append(
                {
                    "root": root.name,
                    "path": relative,
                    "size": target.stat().st_size,
                    "sha256": sha256(target),
                }
            )
    timings["files"] = time.monotonic() - tick
    tick = time.monotonic()
    dump_sha = sha256(dest / DUMP)
    timings["checksums"] = time.monotonic() - tick
    manifest = {
        "format": FORMAT,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": connection.settings_dict["NAME"],
        "versions": versions,
        "dump": {"file": DUMP, "size": (dest / DUMP).stat().st_size, "sha256": dump_sha},
        "change_log": {"last_seq": head[0], "last_hash": head[1]},
        "tables": counts,
        "files": files,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


# --------------------------------------------------------------------------- restore


def read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((Path(source) / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError([f"清单不可读 / cannot read {MANIFEST}: {error}"]) from error
    if manifest.get("format") != FORMAT:
        raise BackupError([f"未知的清单格式 / unknown manifest format {manifest.get('format')!r}"])
    return manifest


def check_files(source: Path, manifest: dict) -> list[str]:
    """Every file of the backup against its checksum: what differs or is missing."""
    source = Path(source)
    expected = [(source / manifest["dump"]["file"], manifest["dump"]["sha256"])]
    expected += [(source / FILES / f["root"] / f["path"], f["sha256"]) for f in manifest["files"]]
    problems = []
    for path, digest in expected:
        if not path.is_file():
            problems.append(f"缺少文件 / missing file: {path.relative_to(source)}")
        elif sha256(path) != digest:
            problems.append(f"校验和不符 / checksum mismatch: {path.relative_to(source)}")
    return problems


def compare_counts(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(expected.keys() | found.keys()):
        if table not in found:
            problems.append(f"恢复后缺少表 / table missing after restore: {table}")
        elif table not in expected:
            problems.append(f"恢复后多出表 / table not in the backup: {table}")
        elif expected[table] != found[table]:
            problems.append(
                f"行数不符 / row count differs: {table} backup {expected[table]}, restored {found[table]}"
            )
    return problems


def _database_exists(admin: psycopg.Connection, name: str) -> bool:
    return (
        admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
    )


def drop_database(name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    with pg.connect("postgres", using=using, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def verify_change_log(database: str, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The restored change log's hash chain, checked by `manage.py verify_changelog` (the national
    side's own verifier) in a process of its own pointed at the restored database."""
    env = pg.libpq_env(using=using)
    env |= {"DATABASE_URL": pg.url(database, using=using), "SEGIS_DATABASE_ROLE": "owner"}
    # The settings in force (under override_settings SETTINGS_MODULE reads None).
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
    env["DJANGO_SETTINGS_MODULE"] = module or "config.settings.prod"
    done = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "verify_changelog"],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
        return [f"变更日志哈希链校验失败 / change log hash chain fails: {reason[0]}"]
    return []


def restore_backup(
    source: Path,
    *,
    database: str,
    files_to: Path,
    using: str = DEFAULT_DB_ALIAS,
    keep_failed: bool = False,
    progress: Progress = _quiet,
) -> dict:
    """Restore a backup into a new database of the same server and a new directory, then check
    both against the manifest and the change log's chain. Any problem raises BackupError listing
    them all, and what was restored is removed (unless `keep_failed`): a restore either verifies
    or leaves nothing behind. Returns the timings."""
    source, files_to = Path(source), Path(files_to)
    timings: dict[str, float] = {}
    manifest = read_manifest(source)
    tick = time.monotonic()
    progress("checking the backup's checksums")
    problems = check_files(source, manifest)
    timings["check_backup"] = time.monotonic() - tick
    if files_to.exists() and any(files_to.iterdir()):
        problems.append(f"{files_to} 不是空目录 / {files_to} is not empty")
    with pg.connect("postgres", using=using, autocommit=True) as admin:
        if _database_exists(admin, database):
            problems.append(f"数据库 {database} 已存在 / database {database} exists already")
        if problems:
            raise BackupError(problems)
        version_num = int(
            admin.execute("SELECT current_setting('server_version_num')").fetchone()[0]
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(database))
        )
    made_dir = not files_to.exists()
    try:
        tick = time.monotonic()
        progress("pg_restore")
        done = subprocess.run(
            [
                pg.tool("pg_restore", version_num // 10000),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                f"--dbname={database}",
                str(source / manifest["dump"]["file"]),
            ],
            env=pg.libpq_env(database, using=using),
            capture_output=True,
            text=True,
        )
        timings["pg_restore"] = time.monotonic() - tick
        if done.returncode != 0:
            raise BackupError(
                [f"pg_restore 失败 / pg_restore failed: {done.stderr.strip()[-2000:]}"]
            )
        tick = time.monotonic()
        progress("counting restored rows")
        with pg.connect(database, using=using) as restored, restored.cursor() as cursor:
            problems = compare_counts(manifest["tables"], count_rows(cursor))
            # The head the national side resumes after: the one the backup recorded.
            cursor.execute(
                f"SELECT last_seq, last_hash FROM {ChangeLogHead._meta.db_table} WHERE id = 1"
            )
            head = list(cursor.fetchone() or (0, GENESIS_HASH))
            recorded = [manifest["change_log"]["last_seq"], manifest["change_log"]["last_hash"]]
            if head != recorded:
                problems.append(
                    f"变更日志头不符 / change log head differs: backup {recorded}, restored {head}"
                )
        timings["count_rows"] = time.monotonic() - tick
        tick = time.monotonic()
        progress("copying files")
        for entry in manifest["files"]:
            target = files_to / entry["root"] / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / FILES / entry["root"] / entry["path"], target)
            if sha256(target) != entry["sha256"]:
                problems.append(f"复制后校验和不符 / checksum differs after copy: {target}")
        files_to.mkdir(parents=True, exist_ok=True)
        timings["files"] = time.monotonic() - tick
        tick = time.monotonic()
        progress("verifying the change log's hash chain")
        problems += verify_change_log(database, using=using)
        timings["verify_change_log"] = time.monotonic() - tick
        if problems:
            raise BackupError(problems)
    except BaseException:
        if not keep_failed:
            drop_database(database, using=using)
            if made_dir:
                shutil.rmtree(files_to, ignore_errors=True)
        raise
    return {k: round(v, 3) for k, v in timings.items()}
