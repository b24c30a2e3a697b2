from typing import Any

from django.core.management.base import CommandParser

from apps.core.errors import InvalidParam
from apps.core.management.scriptable import ScriptableCommand
from apps.providers import services
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = (
        "Set a model provider's credentials for a workspace (checked with a real call unless "
        "--no-validate) and optionally its default models. Prints the credential id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("provider", help="Dify provider name, e.g. openai")
        parser.add_argument(
            "--credential",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="repeatable, e.g. --credential api_key=sk-… --credential base_url=http://…",
        )
        parser.add_argument("--no-validate", action="store_true")
        parser.add_argument("--default-chat", metavar="MODEL")
        parser.add_argument("--default-embedding", metavar="MODEL")
        parser.add_argument("--default-rerank", metavar="MODEL")
        parser.add_argument("--default-moderation", metavar="MODEL")
        parser.add_argument("--default-speech2text", metavar="MODEL")
        parser.add_argument("--default-tts", metavar="MODEL")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"])
        credentials: dict[str, str] = {}
        for item in options["credential"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InvalidParam(f"--credential expects KEY=VALUE, got {item!r}")
            credentials[key.strip()] = value
        provider = services.provider_get(options["provider"])
        credential_id = ""
        if credentials or any(f.required for f in provider.credential_schema):
            credential = services.provider_credentials_set(
                workspace=workspace,
                provider_name=provider.name,
                credentials=credentials,
                validate=not options["no_validate"],
            )
            credential_id = str(credential.pk)
            state = "validated" if not options["no_validate"] else "saved (not validated)"
            self.stdout.write(f"{provider.name}: credentials {state}")
        for option, model_type in (
            ("default_chat", "llm"),
            ("default_embedding", "text-embedding"),
            ("default_rerank", "rerank"),
            ("default_moderation", "moderation"),
            ("default_speech2text", "speech2text"),
            ("default_tts", "tts"),
        ):
            if options[option]:
                services.default_model_set(
                    workspace=workspace,
                    model_type=model_type,
                    provider_name=provider.name,
                    model=options[option],
                )
                self.stdout.write(f"default {model_type} model: {provider.name}/{options[option]}")
        self.stdout.write(credential_id or provider.name)
