"""Settings shared by every environment; each value that differs between machines comes from the environment."""

import datetime as dt
from pathlib import Path

import csp.constants as csp
import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# scripts/setup.sh writes the database it chose here, so every later command finds it.
environ.Env.read_env(VAR_DIR / "env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="segis-development-key-not-for-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# Two database roles on one database: the owner (DATABASE_URL) migrates and runs maintenance
# commands; the server and the worker connect as the application's own role (DATABASE_APP_USER and
# DATABASE_APP_PASSWORD, made by scripts/setup.sh: rows only, owns nothing, cannot change the audit
# trail). SEGIS_DATABASE_ROLE=app picks it (config/wsgi.py and manage.py's serving commands set it).
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default="postgis://postgres@127.0.0.1:5432/segis",
        # PostGIS with a pool that survives a server restart (common/postgis/base.py).
        engine="common.postgis",
    )
}
DATABASE_APP_ROLE = env("DATABASE_APP_USER", default="")
if DATABASE_APP_ROLE and env("SEGIS_DATABASE_ROLE", default="owner") == "app":
    DATABASES["default"]["USER"] = DATABASE_APP_ROLE
    DATABASES["default"]["PASSWORD"] = env("DATABASE_APP_PASSWORD", default="")
# A pool of open connections (psycopg_pool): without one Django connects for every request, which
# costs more than a map tile itself. A pool, not CONN_MAX_AGE: the development server runs each
# request in a new thread. One connection kept open, more opened on demand (docs/operations.md).
# Without the pool, DATABASE_CONN_MAX_AGE keeps each thread's connection that many seconds.
if env.bool("DATABASE_POOL", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": 10,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# A connection the server dropped (restart, failover, pg_terminate_backend) is tested before a
# request or the worker's next poll uses it, and replaced: the pool checks it on checkout, a kept
# connection (CONN_MAX_AGE) is checked once a request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Bounds on every statement and on a transaction left idle, in seconds (0: none). A request's
# statements stay short; the worker raises both for its jobs' own transactions (JOB_STATEMENT_TIMEOUT,
# common/db.py). Given to the server at connect (libpq `options`), after any the URL carries.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=30)
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT = env.float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default=60)
_timeouts = (
    f"-c statement_timeout={int(DATABASE_STATEMENT_TIMEOUT * 1000)} "
    f"-c idle_in_transaction_session_timeout={int(DATABASE_IDLE_IN_TRANSACTION_TIMEOUT * 1000)}"
)
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = f"{_options.get('options', '')} {_timeouts}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    # Sign-in throttling and lockout, and the second factor (TOTP): 等保 2.0 身份鉴别 (docs/security.md).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    # Before exports: exports/admin.py takes the queue's admin page away (see there).
    "django_tasks_db",
    "geo",
    "accounts",
    "registry",
    "cylinders",
    "licensing",
    "inspections",
    "layers",
    "maps",
    "exports",
    "ogcapi",
    "response",
    "patrol",
    "analysis",
    "public",
    # Backup, restore, health and readiness (docs/backup.md, docs/operations.md).
    "operations",
]

MIDDLEWARE = [
    # First: the load balancer's /healthz and /readyz, before sessions and the HTTPS redirect.
    "operations.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages, not static files, carry the CSP and Permissions-Policy (config/headers.py).
    "csp.middleware.CSPMiddleware",
    "config.headers.PermissionsPolicyMiddleware",
    # Before sessions: the public space (/p/) reads no session and sends its own headers.
    "public.middleware.PublicSpaceMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Text with a NUL character never reaches a view (PostgreSQL stores none): a 400 naming it.
    "common.http.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The database's row-level security reads as the request's user (geo/scoping.py `reading`).
    "accounts.middleware.ReaderMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ours after messages (they tell the user why): refusals audited, then session and OTP rules.
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.RefusalAuditMiddleware",
    "accounts.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the answer accounts.lockout gives.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "config.context.deployment",
                "config.context.rights",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# Axes first: it refuses a locked-out username+IP before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UserWithAgencyBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# 等保 2.0 level 3: complex passwords (length, three of four classes, not recently used), changed
# regularly (accounts/passwords.py; accounts/middleware.py sends an expired one to the change page).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.passwords.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "accounts.passwords.PasswordHistoryValidator", "OPTIONS": {"remember": 5}},
]
# 0 turns expiry off.
SEGIS_PASSWORD_MAX_AGE = dt.timedelta(days=env.int("SEGIS_PASSWORD_MAX_AGE_DAYS", default=90))

# Sessions: signed out after SEGIS_SESSION_IDLE of inactivity and SESSION_COOKIE_AGE after sign-in
# whatever the activity (accounts/middleware.py); the cookie dies with the browser.
SESSION_COOKIE_AGE = int(
    dt.timedelta(hours=env.float("SESSION_MAX_HOURS", default=12)).total_seconds()
)
SEGIS_SESSION_IDLE = dt.timedelta(minutes=env.float("SESSION_IDLE_MINUTES", default=30))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Sign-in throttling (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for the cool-off; a user admin's "unlock" action lifts it sooner.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Its admin would list every jurisdiction's usernames and addresses: unlocking is a user admin action.
AXES_ENABLE_ADMIN = False
# Behind a reverse proxy, the number of proxies that append to X-Forwarded-For.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=None)
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# Second factor (TOTP, django-otp) for administrators and national and provincial accounts;
# production turns it on (config/settings/prod.py).
SEGIS_REQUIRE_OTP = env.bool("SEGIS_REQUIRE_OTP", default=False)
OTP_TOTP_ISSUER = "SEGIS"

# API tokens (accounts/tokens.py): stored as a SHA-256 digest, good for this many days.
SEGIS_API_TOKEN_DAYS = env.int("SEGIS_API_TOKEN_DAYS", default=90)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Bounded pages: `limit` over 1000 or an unreadable `offset` is a 400 naming it.
    "DEFAULT_PAGINATION_CLASS": "common.api.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_PARSER_CLASSES": [
        "common.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # OPTIONS answers JSON on every view, pages too, and never needs a serializer.
    "DEFAULT_METADATA_CLASS": "common.api.Metadata",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.api.ContentNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SEGIS API",
    "DESCRIPTION": "特种设备安全监察地理信息系统 / special-equipment safety supervision GIS. Every answer is scoped to the caller's jurisdiction.",
    "VERSION": "0.1.0",
    # Served from the sidecar package: the docs page works on an intranet with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The map's plain Django endpoints (tiles, counts, GeoJSON) join the schema; HTML pages leave it.
    "PREPROCESSING_HOOKS": ["maps.openapi.drop_html_pages"],
    # One name for each choice set the API answers (several models have a `state`).
    "ENUM_NAME_OVERRIDES": {
        "IncidentStateEnum": "response.models.IncidentState",
        "ImportJobStateEnum": "registry.models.imports.ImportJob.State",
        "ExchangePullStateEnum": "registry.models.exchange.PullState",
        # Two `kind` choice sets: a cylinder's and an inspection's.
        "CylinderKindEnum": "cylinders.models.CylinderKind",
        "InspectionKindEnum": "registry.models.equipment.InspectionKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "maps.openapi.add_map_paths",
    ],
}

# Content-Security-Policy (django-csp): scripts only from this site, an inline one only with the
# request's nonce (templates write nonce="{{ request.csp_nonce }}"; geo/offline.py's folium maps too).
# style-src keeps 'unsafe-inline': folium's maps bring <style> blocks, legends colour swatches with
# style attributes and segis-map.js sets them; a style cannot run code, a script can.
# MapLibre builds its tile workers and decoded tiles from blob: URLs. The online basemaps
# (maps/views.py: OpenStreetMap, Tianditu) are fetched and drawn only when a user picks one.
SEGIS_BASEMAP_ORIGINS = env.list(
    "SEGIS_BASEMAP_ORIGINS",
    default=["https://tile.openstreetmap.org", "https://*.tianditu.gov.cn"],
)
# The offline street base map (docs/basemap.md): a PMTiles archive on this server's disk, read by
# the map with HTTP range requests (/map/basemap.pmtiles). Empty: the map offers no street map.
# With SEGIS_PMTILES_ACCEL_PATH, Django only checks the sign-in and nginx sends the bytes
# (X-Accel-Redirect to that internal location).
SEGIS_PMTILES_PATH = env("SEGIS_PMTILES_PATH", default="")
SEGIS_PMTILES_ACCEL_PATH = env("SEGIS_PMTILES_ACCEL_PATH", default="")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "blob:", *SEGIS_BASEMAP_ORIGINS],
        "connect-src": [csp.SELF, *SEGIS_BASEMAP_ORIGINS],
        "worker-src": [csp.SELF, "blob:"],
        "font-src": [csp.SELF, "data:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}
# SecurityMiddleware's defaults already send Referrer-Policy: same-origin, X-Content-Type-Options:
# nosniff and Cross-Origin-Opener-Policy: same-origin; Permissions-Policy has no Django setting
# (config/headers.py sends it). No page uses the camera, microphone, location or payments.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

# The public service (issue 21, docs/public.md): device pages behind QR labels and the public's
# reports, under PUBLIC_PATH_PREFIX with no session. Labels carry PUBLIC_BASE_URL when the public
# site is another host than the desk that prints them.
PUBLIC_PATH_PREFIX = "/p/"
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="")
PUBLIC_CACHE_SECONDS = env.int("PUBLIC_CACHE_SECONDS", default=300)
PUBLIC_PHOTO_MAX_BYTES = env.int("PUBLIC_PHOTO_MAX_BYTES", default=5 * 1024 * 1024)
# Per client (its address, or PUBLIC_CLIENT_IP_HEADER's when a proxy sets it): (hits, seconds).
PUBLIC_RATE_LIMITS = {
    "lookup": (env.int("PUBLIC_LOOKUPS_PER_MINUTE", default=10), 60),
    "report": (env.int("PUBLIC_REPORTS_PER_10_MINUTES", default=5), 600),
}
PUBLIC_CLIENT_IP_HEADER = env("PUBLIC_CLIENT_IP_HEADER", default="")
# No script at all, no inline style, nothing from elsewhere: the public pages are plain HTML.
PUBLIC_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# Silenced only where the installed GDAL needs it: geo/apps.py (gis.W001 before GDAL 3.9).
SILENCED_SYSTEM_CHECKS: list[str] = []

# Storage, API and display coordinate systems are separate decisions (see docs/crs.md).
STORAGE_SRID = 4326

# Background work (large exports) runs in `manage.py db_worker`: the queue is a table of this
# database, so there is no broker to run, and a job is queued in the transaction that records it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Exports (exports/jobs.py, docs/export-jobs.md). Files live in a private directory served
# only through Django, to their requester; it must not be under STATIC_ROOT or a web server's root.
EXPORT_ROOT = Path(env("EXPORT_ROOT", default=str(VAR_DIR / "exports")))
# An estimate below this many rows is exported in the request and downloaded at once; above it the
# export becomes a background job with progress and a download link.
EXPORT_DIRECT_MAX_ROWS = env.int("EXPORT_DIRECT_MAX_ROWS", default=20_000)
EXPORT_EXPIRES_AFTER = dt.timedelta(hours=env.float("EXPORT_EXPIRES_HOURS", default=24))
# Background jobs (common/jobs.py): a running job reports progress every few seconds; one silent
# this long has a dead or hung worker (on another host, where its process cannot be looked up) and
# is failed by the sweep (imports use it; exports may have their own).
JOB_STALLED_AFTER = dt.timedelta(minutes=env.float("JOB_STALLED_MINUTES", default=30))
EXPORT_STALLED_AFTER = dt.timedelta(
    minutes=env.float("EXPORT_STALLED_MINUTES", default=JOB_STALLED_AFTER.total_seconds() / 60)
)
# Queued or running jobs one user may have at a time.
EXPORT_MAX_ACTIVE_JOBS = env.int("EXPORT_MAX_ACTIVE_JOBS", default=3)

# Uploaded import files (registry/importers, docs/import.md): private like exports, stored under
# generated names. The other import limits have their defaults in registry/importers/limits.py.
IMPORT_ROOT = Path(env("IMPORT_ROOT", default=str(VAR_DIR / "imports")))

# National ID numbers are personal information: encrypted at rest with this key (Fernet, urlsafe base64).
PERSONAL_DATA_KEY = env("PERSONAL_DATA_KEY", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}

# Exchange (issue 7): the change feed a province serves and the national side pulls (docs/exchange.md).
EXCHANGE_FEED_PAGE = env.int("EXCHANGE_FEED_PAGE", default=1000)
EXCHANGE_FEED_MAX_PAGE = env.int("EXCHANGE_FEED_MAX_PAGE", default=5000)
# Seconds the national side waits for one page before it counts the pull as failed.
EXCHANGE_PULL_TIMEOUT = env.float("EXCHANGE_PULL_TIMEOUT", default=60)

# Imports (issue 7): upload directories of jobs neither running nor finished are removed by
# `manage.py clean_imports` after this many days (docs/import.md).
IMPORT_KEEP_DAYS = env.int("IMPORT_KEEP_DAYS", default=7)

# Issue 17, bounded work. The worker's jobs (an export, an import's dry run or commit) run long
# transactions: each one they open raises the bounds above for itself (SET LOCAL, common/db.py).
JOB_STATEMENT_TIMEOUT = env.float("JOB_STATEMENT_TIMEOUT", default=600)
JOB_IDLE_IN_TRANSACTION_TIMEOUT = env.float("JOB_IDLE_IN_TRANSACTION_TIMEOUT", default=300)
# A running job's worker writes a heartbeat this often, whether or not its rows move (common/jobs.py).
JOB_HEARTBEAT = dt.timedelta(seconds=env.float("JOB_HEARTBEAT_SECONDS", default=5))
# A running job silent for four beats has a dead worker: the sweep (at the next claim, and when its
# state is read) fails it then. These replace the 30-minute defaults above; the variables still win.
JOB_STALLED_AFTER = dt.timedelta(
    minutes=env.float("JOB_STALLED_MINUTES", default=4 * JOB_HEARTBEAT.total_seconds() / 60)
)
EXPORT_STALLED_AFTER = dt.timedelta(
    minutes=env.float("EXPORT_STALLED_MINUTES", default=JOB_STALLED_AFTER.total_seconds() / 60)
)
# A scratch directory an export inside a web request made in the system's temporary folder is
# taken for abandoned once untouched this long (exports/jobs.py clean_exports): no job row tells.
EXPORT_SCRATCH_STALE_AFTER = dt.timedelta(
    minutes=env.float("EXPORT_SCRATCH_STALE_MINUTES", default=30)
)
# Per user: uploads still open (not committed, failed or cancelled, and kept), dry runs and
# commits queued or running at once; and rows in one file. Past them: 429 and 400 naming the limit.
IMPORT_MAX_OPEN_UPLOADS = env.int("IMPORT_MAX_OPEN_UPLOADS", default=20)
IMPORT_MAX_ACTIVE_RUNS = env.int("IMPORT_MAX_ACTIVE_RUNS", default=2)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=500_000)
# Readiness (/readyz, operations/health.py, docs/backup.md): a replica further behind than this is
# not ready; a job worker must be connected; the export directory must keep this much free.
READY_REPLICA_MAX_LAG = dt.timedelta(seconds=env.float("READY_REPLICA_MAX_LAG_SECONDS", default=30))
READY_REQUIRES_WORKER = env.bool("READY_REQUIRES_WORKER", default=True)
# Replicas fail readiness only where a host must serve from them (a read pool); elsewhere the
# router falls back to the primary and logs the replica it skips.
READY_REQUIRES_REPLICAS = env.bool("READY_REQUIRES_REPLICAS", default=False)
READY_MIN_FREE_EXPORT_BYTES = env.int("READY_MIN_FREE_EXPORT_MB", default=1024) * 1024 * 1024
# Last, so that it sees a view's database failure first (common/db.py).
MIDDLEWARE = [*MIDDLEWARE, "common.db.DatabaseFailureMiddleware"]

# Read replicas (issue 20, docs/backup.md): streaming standbys, one URL each, as aliases `replica`,
# `replica2`, …; GET/HEAD requests under REPLICA_READ_PATHS read through the ORM from the first one
# ready (up, within READY_REPLICA_MAX_LAG; checked every REPLICA_CHECK_SECONDS), else the primary.
_replica_urls = env.list("DATABASE_REPLICA_URLS", default=[])
for _number, _url in enumerate(_replica_urls, start=1):
    _replica = environ.Env.db_url_config(_url, engine="common.postgis")
    if DATABASE_APP_ROLE and env("SEGIS_DATABASE_ROLE", default="owner") == "app":
        _replica["USER"], _replica["PASSWORD"] = (
            DATABASES["default"]["USER"],
            DATABASES["default"]["PASSWORD"],
        )
    _replica["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], **_replica.get("OPTIONS", {})}
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["TEST"] = {"MIRROR": "default"}  # tests read the test database through it
    DATABASES["replica" if _number == 1 else f"replica{_number}"] = _replica
if _replica_urls:
    DATABASE_ROUTERS = ["operations.replicas.ReplicaRouter"]
    MIDDLEWARE = [*MIDDLEWARE[:-1], "operations.replicas.ReplicaReadsMiddleware", MIDDLEWARE[-1]]
REPLICA_READ_PATHS = env.list(
    "REPLICA_READ_PATHS",
    default=[
        "/tiles/",
        "/api/geojson/",
        "/ogcapi/",
        "/api/search/",
        "/api/analysis/",
        "/analysis/",
    ],
)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5)

# Issue 18: the analysis desk's precomputed measures. A read first recounts the counties of its
# scope changed since their count when they hold at most this many devices together (a county is
# counted in ≈ 70 µs a device: 10,000 ≈ 0.7 s); beyond that, or with 0, it answers from the table
# and the refresh timer catches up.
ANALYSIS_READ_REFRESH_DEVICES = env.int("ANALYSIS_READ_REFRESH_DEVICES", default=10_000)
