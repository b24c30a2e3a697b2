"""Django's PostgreSQL backend with a cheaper pool health check.

With ``CONN_HEALTH_CHECKS`` and a pool, Django has psycopg_pool check every connection it
hands out with a round trip to the server. A request that takes a connection the previous
request gave back a millisecond ago pays that round trip (and, on two busy cores, a wait
for the GIL after it) for nothing. Here a connection returned to the pool less than
``CHECK_AFTER_IDLE_SECONDS`` ago is handed out unchecked; one idle for longer is checked as
before (a dropped connection is replaced, not given to the request). The pool still drops a
connection that comes back broken or mid-transaction.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base

CHECK_AFTER_IDLE_SECONDS = 2.0
_RETURNED_AT = "_dify_returned_at"


def _stamp_returned(conn: Any) -> None:
    """psycopg_pool's ``reset`` hook: runs as the connection goes back to the pool."""
    setattr(conn, _RETURNED_AT, time.monotonic())


def check_unless_recent(conn: Any) -> None:
    """psycopg_pool's ``check`` hook: a round trip only for a connection idle for a while."""
    returned_at = getattr(conn, _RETURNED_AT, None)
    if returned_at is not None and time.monotonic() - returned_at < CHECK_AFTER_IDLE_SECONDS:
        return
    from psycopg_pool import ConnectionPool

    ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options:
            return None
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]
        if self.alias not in pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                from django.core.exceptions import ImproperlyConfigured

                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            from psycopg_pool import ConnectionPool

            options = {} if options is True else dict(options)
            kwargs = self.get_connection_params()
            kwargs["autocommit"] = True  # Django sets what it needs once it has the connection
            checked = bool(self.settings_dict["CONN_HEALTH_CHECKS"])
            pool = ConnectionPool(
                kwargs=kwargs,
                open=False,
                configure=self._configure_connection,  # type: ignore[attr-defined]
                check=check_unless_recent if checked else None,
                reset=_stamp_returned,
                **options,
            )
            pools.setdefault(self.alias, pool)  # the first thread's pool wins
        return pools[self.alias]
