"""Production: every secret from the environment, HTTPS only behind a TLS proxy, compressed static files."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
PERSONAL_DATA_KEY = env("PERSONAL_DATA_KEY")
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Behind the reverse proxy that ends TLS (docs/deployment.md): it sets X-Forwarded-Proto, so
# Django knows a request came over HTTPS. Set it empty where gunicorn is reached without the proxy:
# a client could claim HTTPS. The proxy must overwrite the header a client sends, not pass it on.
_proto_header = env("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proto_header, "https") if _proto_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# A year, subdomains and preload: what `check --deploy` asks. HSTS is hard to undo once browsers have
# it, so a first deployment may start lower (SECURE_HSTS_SECONDS=3600) and raise it once TLS holds.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Regulators' accounts reach personal data: a second factor unless a deployment opts out.
SEGIS_REQUIRE_OTP = env.bool("SEGIS_REQUIRE_OTP", default=True)

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
