from typing import Any

from apps.core.bootstrap import bootstrap
from apps.core.management.scriptable import ScriptableCommand


class Command(ScriptableCommand):
    help = "Apply migrations, create the first admin account and a default workspace."

    def run(self, **options: Any) -> None:
        result = bootstrap()
        if result.admin_password:
            self.stdout.write(
                f"admin account: {result.admin_email}  password: {result.admin_password}"
                "  (shown once; set ADMIN_PASSWORD to choose it)"
            )
        self.stdout.write(str(result.workspace.pk))
