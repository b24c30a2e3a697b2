from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.workflows.dsl_services import app_export_dsl
from apps.workflows.selectors import app_get_for_operator


class Command(ScriptableCommand):
    help = "Export an app as a Dify DSL file (secret environment values left blank)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="app id")
        parser.add_argument("--out", help="write to this file instead of standard output")
        parser.add_argument(
            "--workflow-version", default="draft", help="draft (default), published, or a version"
        )
        parser.add_argument("--include-secrets", action="store_true")

    def run(self, **options: Any) -> None:
        app = app_get_for_operator(options["app"])
        text = app_export_dsl(
            app=app, include_secrets=options["include_secrets"], version=options["workflow_version"]
        )
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8")
            self.stdout.write(options["out"])
        else:
            self.stdout.write(text, ending="")
