from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.tenants.selectors import workspace_resolve
from apps.tenants.services import api_key_create
from apps.workflows.selectors import app_get


class Command(ScriptableCommand):
    help = "Create a Service API key (app-… for one app, dataset-… for the workspace). Prints it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--app", metavar="APP_ID")
        kind.add_argument("--dataset", action="store_true")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"])
        if options["app"]:
            app = app_get(workspace=workspace, app_id=options["app"])
            _, raw = api_key_create(workspace=workspace, key_type="app", app=app)
        else:
            _, raw = api_key_create(workspace=workspace, key_type="dataset")
        self.stdout.write(raw)
