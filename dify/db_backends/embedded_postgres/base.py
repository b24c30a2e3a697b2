"""PostgreSQL backend that starts the embedded server on the first connection.

Settings keys beside the usual ones: ``EMBEDDED_PGDATA`` (data directory) and
``EMBEDDED_DELETE_ON_EXIT`` (used by the test suite for a throw-away server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dify.db_backends.postgresql import base
from dify.embedded_db import ensure_running


class DatabaseWrapper(base.DatabaseWrapper):
    _pooled_params: dict[str, Any] | None = None

    def get_connection_params(self) -> dict[str, Any]:
        # With a pool, Django still asks for the parameters on every connection it takes
        # from the pool but does not use them; the pool's connections were opened with
        # them. Asking again would check the server's socket on every request.
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]
        if self._pooled_params is not None and self.alias in pools:
            return dict(self._pooled_params)
        socket_dir = ensure_running(
            Path(self.settings_dict["EMBEDDED_PGDATA"]),
            delete_on_exit=bool(self.settings_dict.get("EMBEDDED_DELETE_ON_EXIT")),
        )
        self.settings_dict["HOST"] = socket_dir
        self.settings_dict["USER"] = "postgres"
        params = super().get_connection_params()
        # Laptop mode: a commit returns before its WAL reaches the disk (an OS crash may lose
        # the last fraction of a second of commits; nothing is ever corrupted).
        params.setdefault("options", "-c synchronous_commit=off")
        if self.settings_dict["OPTIONS"].get("pool"):
            self._pooled_params = dict(params)
        return params
