"""The test suite: a throw-away test database created by pytest-django on the same server."""

import os

# A test holds its transaction open for as long as it runs, and a busy machine may make any
# statement slow: the suite runs without the web's bounds (tests/common/test_db_failures.py sets
# them in processes of its own).
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
os.environ.setdefault("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", "0")

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files straight from the app folders: no collectstatic step before running.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Parallel runs on one server (several developers, a benchmark) each name their own test database.
DATABASES["default"]["TEST"] = {"NAME": env("SEGIS_TEST_DATABASE", default="test_segis")}  # noqa: F405
