"""The test suite: a throw-away test database created by pytest-django on the same server."""

from .base import *  # noqa: F403
from .base import env

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
