"""The PostgreSQL backend's pool check: a round trip only for connections idle a while."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from dify.db_backends.postgresql import base


@pytest.fixture
def raw_connection():
    conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    yield conn
    conn.close()


def test_a_just_returned_connection_is_handed_out_unchecked(raw_connection):
    base._stamp_returned(raw_connection)
    raw_connection.close()  # a check would fail on it now
    base.check_unless_recent(raw_connection)  # no round trip: nothing raised


def test_a_connection_idle_for_a_while_is_checked(raw_connection, monkeypatch):
    base._stamp_returned(raw_connection)
    base.check_unless_recent(raw_connection)  # healthy: passes either way
    later = base.time.monotonic() + base.CHECK_AFTER_IDLE_SECONDS + 1
    monkeypatch.setattr(base.time, "monotonic", lambda: later)
    base.check_unless_recent(raw_connection)  # checked, and healthy
    raw_connection.close()
    with pytest.raises(psycopg.OperationalError):
        base.check_unless_recent(raw_connection)


def test_a_connection_never_returned_is_checked(raw_connection):
    raw_connection.close()
    with pytest.raises(psycopg.OperationalError):
        base.check_unless_recent(raw_connection)


def test_the_configured_backend_pools_with_that_check():
    """Both backends (embedded, DATABASE_URL) are this one; the pool has its hooks."""
    from django.db import connections

    wrapper = connections["default"]
    assert isinstance(wrapper, base.DatabaseWrapper)
    pool = wrapper.pool
    if pool is None:
        pytest.skip("DB_POOL_MAX_SIZE=0: no pool")
    assert pool._check is base.check_unless_recent and pool._reset is base._stamp_returned
