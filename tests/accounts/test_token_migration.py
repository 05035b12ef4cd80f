"""The migration that moves DRF's clear-text token keys to digests (accounts 0002)."""

from __future__ import annotations

import hashlib
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

identity = importlib.import_module("accounts.migrations.0002_identity")
KEY = "0123456789abcdef0123456789abcdef01234567"


def test_old_keys_keep_working_and_are_no_longer_stored_in_clear(users):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint, "
            "created timestamptz DEFAULT now())"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, user_id) VALUES (%s, %s)",
            [KEY, users["xingqing"].pk],
        )
    with connection.schema_editor() as editor:
        identity.forward(apps, editor)
    token = ApiToken.objects.get(user=users["xingqing"])
    assert token.digest == hashlib.sha256(KEY.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert Client(HTTP_AUTHORIZATION=f"Token {KEY}").get("/ogcapi/collections").status_code == 200


def test_without_the_old_table_only_the_password_histories_start(users):
    users["xingqing"].password_history.all().delete()  # as before the migration
    with connection.schema_editor() as editor:
        identity.forward(apps, editor)
    assert not ApiToken.objects.exists()
    assert users["xingqing"].password_history.filter(password=users["xingqing"].password).exists()
