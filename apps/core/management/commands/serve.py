import os
from typing import Any

from django.core.management.base import CommandParser
from django.db import connections

from apps.core.bootstrap import bootstrap
from apps.core.management.scriptable import ScriptableCommand


class Command(ScriptableCommand):
    help = "Bootstrap (migrations, admin, default workspace), then serve HTTP + WebSocket (ASGI)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-bootstrap", action="store_true")

    def run(self, **options: Any) -> None:
        import uvicorn

        if not options["no_bootstrap"]:
            result = bootstrap()
            if result.admin_password:
                self.stdout.write(
                    f"admin account: {result.admin_email}  password: {result.admin_password}"
                    "  (shown once; set ADMIN_PASSWORD to choose it)"
                )
            self.stdout.write(f"default workspace: {result.workspace.name} ({result.workspace.pk})")
        connections.close_all()
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"serving on {url}  (admin: {url}/admin/, health: {url}/health)")
        self.stdout.flush()
        uvicorn.run(
            "dify.asgi:application",
            host=options["host"],
            port=options["port"],
            lifespan="off",
            log_level=os.environ.get("UVICORN_LOG_LEVEL", "info"),
        )
