"""The application's own database role (等保 2.0 访问控制, 安全审计): it reads and writes rows, owns
nothing, and cannot change or delete the audit trail; the serving processes connect as it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from psycopg import errors, sql

from common.db import grant_after_migrate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_role(transactional_db):
    """A login role of its own, granted as migrate grants the configured one; dropped after."""
    role, password = f"segis_test_app_{secrets.token_hex(4)}", secrets.token_hex(12)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    with override_settings(DATABASE_APP_ROLE=role):
        grant_after_migrate()
    yield role, password
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def connect_as(role: str, password: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"],
        user=role, password=password, autocommit=True,
    )  # fmt: skip


def test_the_app_role_serves_rows_and_nothing_more(app_role):
    role, password = app_role
    with connect_as(role, password) as app:
        app.execute("SELECT count(*) FROM registry_equipment").fetchone()
        app.execute("UPDATE registry_equipment SET address = address WHERE false")
        app.execute("DELETE FROM registry_unit WHERE false")
        app.execute("SELECT count(*) FROM accounts_auditentry").fetchone()
        privileges = app.execute(
            "SELECT has_table_privilege(current_user, 'accounts_auditentry', 'INSERT'), "
            "has_sequence_privilege(current_user, pg_get_serial_sequence('accounts_auditentry', "
            "'id'), 'USAGE'), rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert privileges == (True, True, False, False)
        for statement in (
            "UPDATE accounts_auditentry SET action = action",
            "DELETE FROM accounts_auditentry",
            "TRUNCATE accounts_auditentry",
            "CREATE TABLE public.segis_test_made_by_app (id int)",
            "ALTER TABLE registry_equipment ADD COLUMN segis_test int",
            "DROP TABLE registry_unit CASCADE",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                app.execute(statement)


def _settings_user(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nfrom django.conf import settings\n"
         "print(settings.DATABASES['default']['USER'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_the_server_connects_as_the_app_role_and_maintenance_as_the_owner():
    env = {k: v for k, v in os.environ.items() if k != "SEGIS_DATABASE_ROLE"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_APP_USER="segis_x_app",
               DATABASE_URL="postgis://owner@127.0.0.1:5432/segis_x")  # fmt: skip
    served = _settings_user(env, "import config.wsgi")
    maintained = _settings_user(env, "import django\ndjango.setup()")
    assert (served, maintained) == ("segis_x_app", "owner")
