import json
from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.providers.services import models_list
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = "List the models a workspace can call (provider, model, type, default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("--type", dest="model_type", help="llm, text-embedding, rerank, …")
        parser.add_argument("--json", action="store_true", help="one JSON array on one line")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"])
        models = models_list(workspace=workspace, model_type=options["model_type"])
        rows = [
            {
                "provider": m.provider,
                "model": m.model,
                "model_type": m.model_type,
                "default": m.is_default,
            }
            for m in models
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("no models: set up a provider with `manage.py set_provider`")
            return
        width = max(len(f"{r['provider']}/{r['model']}") for r in rows)
        for r in rows:
            name = f"{r['provider']}/{r['model']}"
            mark = "  (default)" if r["default"] else ""
            self.stdout.write(f"{name:<{width}}  {r['model_type']}{mark}")
