from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.tenants.services import workspace_create


class Command(ScriptableCommand):
    help = "Create a workspace owned by EMAIL (the account is created if needed). Prints the id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, metavar="EMAIL")
        parser.add_argument("--password", help="Set the owner's password")

    def run(self, **options: Any) -> None:
        workspace, account = workspace_create(
            name=options["name"], owner_email=options["owner"], owner_password=options["password"]
        )
        if account.generated_password:
            self.stdout.write(
                f"created account {account.user.email} with password: {account.generated_password}"
            )
        self.stdout.write(str(workspace.pk))
