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

# gunicorn's workers serve one request at a time per thread and keep their threads, so each keeps
# its database connection (CONN_MAX_AGE) instead of taking one from a pool for every request:
# the checkout cost a pre-counted map tile 0.05–0.1 ms of its 1.4 ms (bench/tiles.py). No health
# check, as the pool has none: a connection the server dropped fails one request and is replaced
# (tests/layers/test_served.py). DATABASE_POOL=true brings the pool back.
if not env.bool("DATABASE_POOL", default=False):
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)  # noqa: F405
