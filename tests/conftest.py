"""Test set-up: a fresh embedded PostgreSQL (+pgvector) per run, eager Celery, fixtures."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.live_server import asgi_server  # noqa: F401  (fixture)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("django"):
        return  # e.g. `-p no:django` for the Django-free runtime tests
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "dify.db_backends.embedded_postgres":
        # A throw-away server for this run; the developer's data/pg is never touched.
        root = Path(tempfile.mkdtemp(prefix="dify-test-pg-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        database["EMBEDDED_PGDATA"] = str(root / "pg")
        database["EMBEDDED_DELETE_ON_EXIT"] = True

    # The fake model servers listen on loopback; provider base URLs must be allowed to
    # reach them (HTTP nodes and tools still are not: see tests/tools for the guard).
    settings.PROVIDER_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

    from dify.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
