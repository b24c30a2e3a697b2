"""Base for operator commands: one-line reasons on failure, results on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.core.errors import AppError


class ScriptableCommand(BaseCommand):
    """``run()`` does the work; known failures become ``CommandError`` (exit 1, one line)."""

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.providers.runtime.errors import ProviderError
        from dify.embedded_db import EmbeddedPostgresError

        try:
            self.run(**options)
        except AppError as exc:
            raise CommandError(exc.message) from exc
        except ProviderError as exc:
            raise CommandError(str(exc)) from exc
        except EmbeddedPostgresError as exc:
            raise CommandError(str(exc).splitlines()[0]) from exc
        except DatabaseError as exc:
            raise CommandError(f"database error: {str(exc).strip().splitlines()[0]}") from exc

    def run(self, **options: Any) -> None:
        raise NotImplementedError
