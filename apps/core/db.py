"""Database connection helpers for long waits outside the database."""

from __future__ import annotations

from django.db import connection


def release_connection() -> None:
    """Give this thread's connection back before a long wait on something else (a model
    stream): hundreds of concurrent streams must not hold hundreds of PostgreSQL
    connections. Django reconnects on the next query. Inside a transaction it does nothing."""
    if not connection.in_atomic_block:
        connection.close()
