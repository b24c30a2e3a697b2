"""PostgreSQL backend that starts the embedded server on the first connection.

Settings keys beside the usual ones: ``EMBEDDED_PGDATA`` (data directory) and
``EMBEDDED_DELETE_ON_EXIT`` (used by the test suite for a throw-away server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from dify.embedded_db import ensure_running


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
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
        return params
