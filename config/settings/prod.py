"""Production: every secret from the environment, hardened cookies, compressed static files."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
PERSONAL_DATA_KEY = env("PERSONAL_DATA_KEY")
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# gunicorn's sync workers serve one request at a time and keep their thread, so each keeps its
# database connection (CONN_MAX_AGE) instead of a pool checkout per request (tests/maps/test_served.py).
# DATABASE_POOL=true brings the pool back.
if not env.bool("DATABASE_POOL", default=False):
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)  # noqa: F405
