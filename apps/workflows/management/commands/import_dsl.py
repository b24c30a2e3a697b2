from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from apps.core.errors import InvalidParam
from apps.core.management.scriptable import ScriptableCommand
from apps.tenants.selectors import workspace_resolve
from apps.workflows.dsl_services import app_import_dsl


class Command(ScriptableCommand):
    help = (
        "Import a Dify DSL app file (YAML) into a workspace. What the app needs but this "
        "workspace lacks is reported as warnings. Prints the new app's id last."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--workspace", required=True, help="workspace id or name")
        parser.add_argument("--name", help="app name (default: the file's app.name)")
        parser.add_argument("--publish", action="store_true", help="publish the workflow too")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"])
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParam(f"cannot read {path}: {exc}") from exc
        result = app_import_dsl(
            workspace=workspace, text=text, name=options["name"], publish=options["publish"]
        )
        for warning in result.warnings:
            self.stdout.write(f"warning: {warning}")
        self.stdout.write(f"imported {result.app.mode} app {result.app.name!r}")
        self.stdout.write(str(result.app.pk))
