"""One env-driven settings module. With no environment it runs the embedded local default.

Embedded default (local use only): SQLite in var/, Celery over kombu's filesystem transport in var/broker,
DEBUG on, a development signing mnemonic. Production sets DJANGO_ENV=production and the variables below;
`check --deploy` is clean there, and the local defaults are errors (recovery/checks.py, docs/security.md).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECOVERY_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("DJANGO_ENV", "local") == "production"
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = "local-only-insecure-key-never-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "recovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "recovery.urls"
WSGI_APPLICATION = "recovery.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The axes backend comes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# --- security (production) ------------------------------------------------------------------------
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 12)))
STAFF_SESSION_AGE = int(os.environ.get("STAFF_SESSION_AGE", str(60 * 60)))
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy, enforced in every environment (the tests see what production sends): this origin
# only; no inline script; an inline <style> only with the request's nonce (CSP_NONCE in templates), so no
# style="" attributes either.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- e-mail ---------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (the journey tests read the users' mail).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "recovery@exchange.example")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "filing": os.environ.get("THROTTLE_FILING", "20/hour"),
        "proofs": os.environ.get("THROTTLE_PROOFS", "30/hour"),
        "lookups": os.environ.get("THROTTLE_LOOKUPS", "120/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wrong-deposit recovery API",
    "DESCRIPTION": "File and follow recovery cases for deposits the exchange could not credit.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs: open locally, staff only in production (read at each request).
    "SERVE_PERMISSIONS": ["recovery.api.permissions.StaffInProduction"],
    # Swagger UI from this origin (drf-spectacular-sidecar's static files), never a CDN: the CSP allows none.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # no badge from validator.swagger.io
}

# --- Celery ---------------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, so a real worker process runs with no broker server
# (local use only: it has no redelivery of unacked messages). Production: RabbitMQ (preferred) or Redis.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_EMBEDDED_BROKER:
    for folder in ("out", "control", "processed"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than the longest task and any countdown, or delayed tasks run twice (Celery #5935).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 60 * 60}
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # money tasks opt in per task (see recovery/payouts/tasks.py)
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
QUEUE_NAMES = ("scan", "verify", "refunds", "notify")
CELERY_TASK_DEFAULT_QUEUE = "verify"
CELERY_TASK_DEFAULT_EXCHANGE = "verify"
CELERY_TASK_DEFAULT_ROUTING_KEY = "verify"
# Each queue on its own direct exchange: a message reaches exactly one queue (a Queue(name) alone would
# bind every queue to the default exchange and key, and each message would go to all of them).
CELERY_TASK_QUEUES = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES]
# Queues per concern, so scanning never waits behind refunds or e-mail. Every task's route and beat entry is
# declared here, by its registered name; the tasks live in recovery/{cases,deposits,payouts}/tasks.py.
CELERY_TASK_ROUTES = {
    "recovery.tasks.notify_event": {"queue": "notify"},
    "recovery.tasks.verify_event_chain": {"queue": "verify"},
    "recovery.tasks.scan_network": {"queue": "scan"},
    "recovery.tasks.scan_all_networks": {"queue": "scan"},
    "recovery.tasks.refund_advance": {"queue": "refunds"},
    "recovery.tasks.case_execute": {"queue": "refunds"},
    "recovery.tasks.sweep_approved_cases": {"queue": "refunds"},
    "recovery.tasks.sweep_stuck_refunds": {"queue": "refunds"},
    "recovery.tasks.deposits_triage": {"queue": "verify"},
    "recovery.tasks.sweep_untriaged_deposits": {"queue": "verify"},
    "recovery.tasks.sweep_unsent_notifications": {"queue": "notify"},
    "recovery.staff_tasks.flag_sla_deadlines": {"queue": "verify"},
    "recovery.reconcile_tasks.reconcile_networks": {"queue": "verify"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # Stale fan-outs expire instead of piling up behind a slow scan; the advisory lock dedupes the rest.
    "scan-networks": {
        "task": "recovery.tasks.scan_all_networks",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 10},
    },
    "sweep-stuck-refunds": {"task": "recovery.tasks.sweep_stuck_refunds", "schedule": timedelta(minutes=1)},
    "sweep-approved-cases": {"task": "recovery.tasks.sweep_approved_cases", "schedule": timedelta(minutes=1)},
    "sweep-untriaged-deposits": {
        "task": "recovery.tasks.sweep_untriaged_deposits",
        "schedule": timedelta(minutes=1),
    },
    "verify-event-chain": {"task": "recovery.tasks.verify_event_chain", "schedule": crontab(minute=17)},
    "flag-sla-deadlines": {
        "task": "recovery.staff_tasks.flag_sla_deadlines",
        "schedule": timedelta(minutes=5),
    },
    "reconcile-networks": {
        "task": "recovery.reconcile_tasks.reconcile_networks",
        "schedule": crontab(minute=41),  # hourly: every nonce of every sending account against our records
        "options": {"expires": 50 * 60},
    },
    "sweep-unsent-notifications": {
        "task": "recovery.tasks.sweep_unsent_notifications",
        "schedule": timedelta(minutes=5),
    },
}
# Auto-return policy: return only what is worth more than this multiple of the return's on-chain cost,
# and only up to this value (larger returns go to staff; keep it below the two-approver threshold).
AUTO_RETURN_COST_MARGIN = int(os.environ.get("AUTO_RETURN_COST_MARGIN", "3"))
AUTO_RETURN_LIMIT_USD_CENTS = int(os.environ.get("AUTO_RETURN_LIMIT_USD_CENTS", str(500 * 100)))
# Failpoints for crash tests (recovery/payouts/failpoints.py); empty in every real deployment.
RECOVERY_FAILPOINTS = os.environ.get("RECOVERY_FAILPOINTS", "")
# A refund still pending this long after its last attempt is re-sent with bumped fees (same nonce).
REFUND_BUMP_AFTER_SECONDS = int(os.environ.get("REFUND_BUMP_AFTER_SECONDS", "180"))
# How many unclear broadcasts of the same bytes before a human must look.
REFUND_MAX_UNCLEAR_SENDS = int(os.environ.get("REFUND_MAX_UNCLEAR_SENDS", "5"))
# How many times a money task may be redelivered after its worker died before a human looks at it.
MONEY_TASK_MAX_REDELIVERIES = int(os.environ.get("MONEY_TASK_MAX_REDELIVERIES", "5"))

# --- chains and money -----------------------------------------------------------------------------
# The signing seed comes from the environment only; it is never stored in the database.
SIGNER_MNEMONIC = os.environ.get("SIGNER_MNEMONIC", "")
if not SIGNER_MNEMONIC and not PRODUCTION:
    SIGNER_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's dev seed
# Refunds above this USD value (in cents) need two distinct approvers.
TWO_APPROVER_THRESHOLD_USD_CENTS = int(os.environ.get("TWO_APPROVER_THRESHOLD_USD_CENTS", str(1_000 * 100)))
DESTINATION_COOLING_OFF = timedelta(hours=float(os.environ.get("DESTINATION_COOLING_OFF_HOURS", "24")))
# A newly added authenticator confirms destinations only after this long (e-mail codes do until then).
FACTOR_COOLING_OFF = timedelta(hours=float(os.environ.get("FACTOR_COOLING_OFF_HOURS", "24")))
# Which Bitcoin network the "bitcoin" family of deposit addresses lives on.
BITCOIN_NETWORK = os.environ.get("BITCOIN_NETWORK", "bitcoin")
# The pricing source (a class with usd_cents(network, contract, amount)); the default is the static table.
PRICE_SOURCE = os.environ.get("PRICE_SOURCE", "recovery.onchain.pricing.StaticPriceTable")
# SLA target for categories without an SlaPolicy row.
SLA_DEFAULT_HOURS = int(os.environ.get("SLA_DEFAULT_HOURS", "72"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "recovery.ops.logs.StructuredFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes.apps logs its version at every process start; its failures and lockouts are WARNINGs of axes.*.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}

# --- user side ---
# How long a fee quote shown on the filing page stays binding (the user files within this time).
FEE_QUOTE_TTL = timedelta(minutes=int(os.environ.get("FEE_QUOTE_TTL_MINUTES", "30")))
# Estimated on-chain cost of one return per family, in USD cents (Network.options return_cost_usd_cents wins).
RETURN_COST_USD_CENTS = {"evm": int(os.environ.get("RETURN_COST_EVM_USD_CENTS", "300")), "bitcoin": 500}
# How long a signed-message ownership challenge may be answered.
OWNERSHIP_CHALLENGE_TTL = timedelta(minutes=int(os.environ.get("OWNERSHIP_CHALLENGE_TTL_MINUTES", "60")))

# --- staff side -----------------------------------------------------------------------------------
# Staff sessions end STAFF_SESSION_AGE after login; approvers pass a TOTP second factor on /staff/.
MIDDLEWARE += ["recovery.staff.middleware.StaffSessionMiddleware"]
# Hours before the deadline a case is flagged "near" when its category has no SlaPolicy row.
SLA_DEFAULT_WARN_HOURS = int(os.environ.get("SLA_DEFAULT_WARN_HOURS", "12"))

# --- throttling: password logins (django-axes) and e-mailed codes ---------------------------------
# Every password login (/login/, /staff/login/, /admin/login/) is counted: LOGIN_FAILURE_LIMIT failures for
# one username, or from one client IP, each within LOGIN_COOL_OFF_MINUTES of the next, lock that username
# and that IP out, the right password included, until LOGIN_COOL_OFF_MINUTES after the last counted failure.
# Tries while locked out are refused without being counted, so the time the lockout page names holds.
# See docs/throttling.md.
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # turns a refused login into the lockout page
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # shared by every web process, unlike LocMemCache
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOL_OFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account and per client IP, each on its own
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "recovery.web.lockout.lockout_page"
AXES_CLIENT_IP_CALLABLE = "recovery.accounts.throttling.client_ip"
# How many reverse proxies append to X-Forwarded-For in front of Django. 0: the client IP is REMOTE_ADDR.
# Behind a proxy it must be set, or every client shares the proxy's IP (and its lockout).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# E-mailed one-time codes (the second factor of users without an authenticator), on the pages and the API
# alike: at most EMAIL_CODES_PER_ACCOUNT per account and EMAIL_CODES_PER_IP per client IP in any
# EMAIL_CODE_WINDOW_MINUTES, counted from the EmailCode rows (each code also allows only 5 tries).
EMAIL_CODE_WINDOW = timedelta(minutes=int(os.environ.get("EMAIL_CODE_WINDOW_MINUTES", "60")))
EMAIL_CODES_PER_ACCOUNT = int(os.environ.get("EMAIL_CODES_PER_ACCOUNT", "5"))
EMAIL_CODES_PER_IP = int(os.environ.get("EMAIL_CODES_PER_IP", "20"))

# --- demo and metrics -----------------------------------------------------------------------------
# GET /metrics (Prometheus text) answers loopback clients when METRICS_ALLOW_LOCALHOST (off by default in
# production: behind a reverse proxy on the same host every request looks local), and any client that
# sends `Authorization: Bearer <METRICS_TOKEN>` (no token set: the bearer path is closed).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOW_LOCALHOST = env_bool("METRICS_ALLOW_LOCALHOST", not PRODUCTION)
# How long a scrape waits for each scanned network's node to report its head (else the lag reads -1).
METRICS_HEAD_TIMEOUT_SECONDS = float(os.environ.get("METRICS_HEAD_TIMEOUT_SECONDS", "2"))

# --- gas top-up batches ---------------------------------------------------------------------------
# Top-ups wait this long for others to share one disperse transaction (networks with options.gas_disperse),
# and a batch holds at most this many deposit addresses.
GAS_TOP_UP_BATCH_WINDOW_SECONDS = float(os.environ.get("GAS_TOP_UP_BATCH_WINDOW_SECONDS", "1.0"))
GAS_TOP_UP_BATCH_MAX = int(os.environ.get("GAS_TOP_UP_BATCH_MAX", "100"))
# Fees that rise after a refund's top-up get another top-up, up to this many per refund; then a person.
GAS_TOP_UPS_PER_REFUND_MAX = int(os.environ.get("GAS_TOP_UPS_PER_REFUND_MAX", "5"))

# --- sweepers for lost messages ---------------------------------------------------------------------
# A refund untouched this long in a working state is re-sent to the workers (a message lost with a killed
# worker: with RabbitMQ it returns at once, with Redis only after the visibility timeout).
REFUND_STUCK_AFTER_SECONDS = int(os.environ.get("REFUND_STUCK_AFTER_SECONDS", "300"))
# An approved on-chain return not queued after this long is executed by the sweeper (its message was lost).
APPROVED_STUCK_AFTER_SECONDS = int(os.environ.get("APPROVED_STUCK_AFTER_SECONDS", "120"))
# A user-visible event still unmailed after this long is mailed by the sweeper (sending is once per event).
NOTIFY_SWEEP_AFTER_SECONDS = int(os.environ.get("NOTIFY_SWEEP_AFTER_SECONDS", "600"))
