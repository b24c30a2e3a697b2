"""Django settings. Every value comes from the environment (see README: Configuration).

Embedded defaults: no DATABASE_URL -> embedded PostgreSQL under data/pg; no REDIS_URL ->
Celery runs tasks eagerly and Channels uses the in-memory layer; no GS_BUCKET_NAME ->
media files on the local disk under data/media.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))
DEBUG = env.bool("DEBUG", default=False)
VERSION = "0.1.0"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if env.str("DATABASE_URL", default=""):
        # A shared database means several processes or replicas: they must share the key
        # (sessions, and credentials encrypted with a key derived from it).
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set")
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
# Fernet keys (comma-separated, newest first) for provider credentials at rest; empty ->
# a key derived from SECRET_KEY.
CREDENTIALS_ENCRYPTION_KEYS = env.list("CREDENTIALS_ENCRYPTION_KEYS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = BEHIND_TLS_PROXY
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_celery_beat",
    "apps.core",
    "apps.tenants",
    "apps.providers",
    "apps.workflows",
    "apps.datasets",
    "apps.tools",
    "django.contrib.postgres",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.HealthCheckMiddleware",  # before host checks: probes use pod IPs
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dify.urls"
WSGI_APPLICATION = "dify.wsgi.application"
ASGI_APPLICATION = "dify.asgi.application"

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
            ],
        },
    },
]

# --- Database: PostgreSQL + pgvector only --------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a pool check that skips just-returned connections.
        DATABASES["default"]["ENGINE"] = "dify.db_backends.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "dify.db_backends.embedded_postgres",
            "NAME": "dify",
            "USER": "postgres",
            "HOST": "",
            "EMBEDDED_PGDATA": env.str("EMBEDDED_PG_DIR", default=str(DATA_DIR / "pg")),
        }
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection pool per process (psycopg_pool through Django): many concurrent streams wait
# briefly for a connection instead of exceeding the server's max_connections.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=20)
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with the pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=30.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders too
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
GS_BUCKET_NAME = env.str("GS_BUCKET_NAME", default="")
if GS_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": GS_BUCKET_NAME,
            "location": env.str("GS_LOCATION", default=""),
            "querystring_auth": True,
            # Workload Identity has no private key: sign URLs through the IAM API instead.
            "iam_sign_blob": env.bool("GS_IAM_SIGN_BLOB", default=False),
            "sa_email": env.str("GS_SA_EMAIL", default="") or None,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Redis, Celery, Channels ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exception_handler.dify_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dify-compatible platform API",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "apps.tenants.roles.ROLE_CHOICES",
        "AssignableRoleEnum": "apps.tenants.roles.ASSIGNABLE_ROLES",
    },
}

# --- Bootstrap (first start, like Dify's setup page) ---------------------------------------
ADMIN_EMAIL = env.str("ADMIN_EMAIL", default="admin@example.com")
ADMIN_PASSWORD = env.str("ADMIN_PASSWORD", default="")
DEFAULT_WORKSPACE_NAME = env.str("DEFAULT_WORKSPACE_NAME", default="Default workspace")

# --- Model providers -----------------------------------------------------------------------
PROVIDER_REQUEST_TIMEOUT = env.float("PROVIDER_REQUEST_TIMEOUT", default=60.0)
PROVIDER_MAX_RETRIES = env.int("PROVIDER_MAX_RETRIES", default=1)

# --- Workflows ---------------------------------------------------------------------------
WORKFLOW_MAX_EXECUTION_STEPS = env.int("WORKFLOW_MAX_EXECUTION_STEPS", default=500)
WORKFLOW_MAX_EXECUTION_TIME = env.float("WORKFLOW_MAX_EXECUTION_TIME", default=1200.0)
WORKFLOW_PARALLEL_DEPTH_LIMIT = env.int("WORKFLOW_MAX_PARALLEL_BRANCHES", default=8)
# A dify-sandbox compatible service for the code node; empty -> the local isolated sandbox
# (apps/workflows/sandbox: namespaces, an unprivileged user, no network, resource limits).
CODE_EXECUTION_ENDPOINT = env.str("CODE_EXECUTION_ENDPOINT", default="")
CODE_EXECUTION_API_KEY = env.str("CODE_EXECUTION_API_KEY", default="")
CODE_EXECUTION_TIMEOUT = env.float("CODE_EXECUTION_TIMEOUT", default=15.0)  # wall s per call
CODE_SANDBOX_POOL_SIZE = env.int("CODE_SANDBOX_POOL_SIZE", default=2)  # warm workers/language
CODE_SANDBOX_CPU_SECONDS = env.int("CODE_SANDBOX_CPU_SECONDS", default=15)
CODE_SANDBOX_MEMORY_MB = env.int("CODE_SANDBOX_MEMORY_MB", default=256)
CODE_SANDBOX_MAX_OUTPUT_BYTES = env.int("CODE_SANDBOX_MAX_OUTPUT_BYTES", default=1024 * 1024)
CODE_SANDBOX_MAX_FILE_MB = env.int("CODE_SANDBOX_MAX_FILE_MB", default=16)  # + its /tmp size
CODE_SANDBOX_MAX_PROCESSES = env.int("CODE_SANDBOX_MAX_PROCESSES", default=16)  # incl. threads
CODE_SANDBOX_UID = env.int("CODE_SANDBOX_UID", default=65534)  # when the app runs as root
CODE_SANDBOX_GID = env.int("CODE_SANDBOX_GID", default=65534)
CODE_SANDBOX_NODE = env.str("CODE_SANDBOX_NODE", default="node")
# Hosts that cannot isolate (no user namespaces): refuse code nodes unless this is set, in
# which case they run in a plain subprocess with the app's user, network and files.
CODE_SANDBOX_ALLOW_UNISOLATED = env.bool("CODE_SANDBOX_ALLOW_UNISOLATED", default=False)

# --- Outbound HTTP (SSRF guard) ------------------------------------------------------------
# Hosts and networks tenants' requests may reach although they are internal (e.g. a local
# model server). Everything else private/loopback/link-local is refused.
SSRF_ALLOWED_HOSTS = env.list("SSRF_ALLOWED_HOSTS", default=[])
SSRF_ALLOWED_NETWORKS = env.list("SSRF_ALLOWED_NETWORKS", default=[])
# Model provider base URLs (set by tenants) go through the same guard; these are allowed for
# providers only, e.g. a model server on the host (PROVIDER_ALLOWED_HOSTS=localhost).
PROVIDER_ALLOWED_HOSTS = env.list("PROVIDER_ALLOWED_HOSTS", default=[])
PROVIDER_ALLOWED_NETWORKS = env.list("PROVIDER_ALLOWED_NETWORKS", default=[])
HTTP_REQUEST_TIMEOUT = env.float("HTTP_REQUEST_TIMEOUT", default=30.0)
HTTP_MAX_RESPONSE_BYTES = env.int("HTTP_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)

# --- Uploads, knowledge bases, end-user page ------------------------------------------------
UPLOAD_FILE_SIZE_LIMIT = env.int("UPLOAD_FILE_SIZE_LIMIT", default=15)  # MB, documents
UPLOAD_IMAGE_FILE_SIZE_LIMIT = env.int("UPLOAD_IMAGE_FILE_SIZE_LIMIT", default=10)  # MB
UPLOAD_AUDIO_FILE_SIZE_LIMIT = env.int("UPLOAD_AUDIO_FILE_SIZE_LIMIT", default=50)  # MB
UPLOAD_VIDEO_FILE_SIZE_LIMIT = env.int("UPLOAD_VIDEO_FILE_SIZE_LIMIT", default=100)  # MB
AUDIO_TO_TEXT_FILE_SIZE_LIMIT = env.int("AUDIO_TO_TEXT_FILE_SIZE_LIMIT", default=30)  # MB (Dify)
WORKFLOW_FILE_UPLOAD_LIMIT = env.int("WORKFLOW_FILE_UPLOAD_LIMIT", default=10)  # files/request
DATASET_UPLOAD_MAX_BYTES = env.int("DATASET_UPLOAD_MAX_BYTES", default=15 * 1024 * 1024)
DATASET_INDEXING_STALE_SECONDS = env.int("DATASET_INDEXING_STALE_SECONDS", default=300)
# Vector search (pgvector HNSW, one partial index per dataset). A dataset gets its index once
# it holds DATASET_VECTOR_INDEX_MIN_ROWS embedded chunks (below, an exact scan is as fast and
# ingest does not maintain a graph); m / ef_construction apply to indexes built afterwards;
# ef_search is the candidate list per query (recall vs latency; at least top_k).
DATASET_VECTOR_INDEX_MIN_ROWS = env.int("DATASET_VECTOR_INDEX_MIN_ROWS", default=2000)
DATASET_HNSW_M = env.int("DATASET_HNSW_M", default=16)
DATASET_HNSW_EF_CONSTRUCTION = env.int("DATASET_HNSW_EF_CONSTRUCTION", default=128)
DATASET_HNSW_EF_SEARCH = env.int("DATASET_HNSW_EF_SEARCH", default=100)
# Full-text: seconds the per-dataset term statistics (IDF weights) are cached per process,
# and how many rows matching the query's rarest terms are scored before falling back to
# scoring every match (exact either way; see apps/datasets/fulltext.py).
DATASET_FULLTEXT_STATS_TTL = env.float("DATASET_FULLTEXT_STATS_TTL", default=60.0)
DATASET_FULLTEXT_CANDIDATES = env.int("DATASET_FULLTEXT_CANDIDATES", default=1000)
# Hit counts and recorded queries of retrievals are written by a background thread of the
# process (batched, off the request path); 0: written by the request itself.
DATASET_RETRIEVAL_RECORD_ASYNC = env.bool("DATASET_RETRIEVAL_RECORD_ASYNC", default=True)
WEB_TOKEN_MAX_AGE = env.int("WEB_TOKEN_MAX_AGE", default=7200)  # seconds
# characters of new answer text between two remote output moderation checks (Dify's default)
MODERATION_BUFFER_SIZE = env.int("MODERATION_BUFFER_SIZE", default=300)
# Threads of one server process that run request handlers (apps/core/asgi_handler.py); a
# blocking chat answer holds one until it ends, streamed answers only for the view.
REQUEST_THREADS_MAX = env.int("REQUEST_THREADS_MAX", default=256)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}},
}
