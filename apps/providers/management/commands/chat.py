import json
import sys
from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.providers.runtime.base import ChatMessage
from apps.providers.services import WorkspaceModelRuntime
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = (
        "Send one message to a workspace's model and stream the answer (default chat model "
        "unless --provider/--model). The last line is the token usage as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("message")
        parser.add_argument("--provider")
        parser.add_argument("--model")
        parser.add_argument("--system", help="a system prompt")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"])
        messages = [ChatMessage(role="user", content=options["message"])]
        if options["system"]:
            messages.insert(0, ChatMessage(role="system", content=options["system"]))
        runtime = WorkspaceModelRuntime(workspace)
        usage = None
        for chunk in runtime.chat_stream(
            messages, provider=options["provider"], model=options["model"]
        ):
            if chunk.delta:
                self.stdout.write(chunk.delta, ending="")
                self.stdout.flush()
            usage = chunk.usage or usage
        self.stdout.write("")
        totals = {
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "total_tokens": usage.total_tokens if usage else 0,
            "latency": round(usage.latency, 3) if usage else 0,
        }
        self.stdout.write(json.dumps(totals))
        sys.stdout.flush()
