from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.providers import services
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = (
        "Set the price of a model in a workspace (it replaces the provider's list price); "
        "message and workflow costs use it. Prints the price id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("provider", help="Dify provider name, e.g. openai_api_compatible")
        parser.add_argument("model")
        parser.add_argument("--input", required=True, help="price of UNIT prompt tokens")
        parser.add_argument("--output", default="0", help="price of UNIT completion tokens")
        parser.add_argument(
            "--unit", default="0.000001", help="0.000001 (default): per million tokens"
        )
        parser.add_argument("--currency", default="USD")

    def run(self, **options: Any) -> None:
        price = services.model_price_set(
            workspace=workspace_resolve(options["workspace"]),
            provider_name=options["provider"],
            model=options["model"],
            input_price=options["input"],
            output_price=options["output"],
            unit=options["unit"],
            currency=options["currency"],
        )
        self.stdout.write(f"{price.provider}/{price.model}: {price}")
        self.stdout.write(str(price.pk))
