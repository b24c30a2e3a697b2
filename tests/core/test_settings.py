"""Settings come from the environment, with embedded defaults (checked in fresh processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
    "'host': s.DATABASES['default'].get('HOST'), "
    "'storage': s.STORAGES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'broker': s.CELERY_BROKER_URL}))"
)


def _settings(tmp_path, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "GS_BUCKET_NAME", "SECRET_KEY"}
    }
    base.update(DJANGO_SETTINGS_MODULE="dify.settings", DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env=base, capture_output=True, text=True
    )


def test_embedded_defaults(tmp_path):
    result = _settings(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "dify.db_backends.embedded_postgres"
    assert values["storage"] == "django.core.files.storage.FileSystemStorage"
    assert values["eager"] is True and values["layer"].endswith("InMemoryChannelLayer")
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, private


def test_external_services_from_the_environment(tmp_path):
    result = _settings(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.internal:5432/dify",
        SECRET_KEY="s" * 50,
        REDIS_URL="redis://cache:6379/0",
        GS_BUCKET_NAME="media-bucket",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "dify.db_backends.postgresql" and values["host"] == "db.internal"
    assert values["storage"] == "storages.backends.gcloud.GoogleCloudStorage"
    assert values["eager"] is False and values["broker"] == "redis://cache:6379/0"
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"


def test_shared_database_without_secret_key_is_refused(tmp_path):
    result = _settings(tmp_path, DATABASE_URL="postgres://u:p@db.internal:5432/dify")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is set" in result.stderr
