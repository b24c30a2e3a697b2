import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from apps.core.errors import InvalidParam
from apps.core.management.scriptable import ScriptableCommand
from apps.workflows.payloads import event_payload
from apps.workflows.run_services import workflow_rerun, workflow_run_start
from apps.workflows.selectors import app_get_for_operator, run_get_for_operator


class Command(ScriptableCommand):
    help = (
        "Run a workflow / chatflow app and print Dify's stream events as JSON lines (the last "
        "is workflow_finished). Exit 1 if the run failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", nargs="?", help="app id")
        parser.add_argument("--inputs", default="{}", help="JSON object of start inputs")
        parser.add_argument("--query", default="", help="sys.query (chatflows)")
        parser.add_argument("--user", default="cli", help="end-user id (sys.user_id)")
        parser.add_argument("--draft", action="store_true", help="run the draft, not published")
        parser.add_argument("--rerun", metavar="RUN_ID", help="re-run a stored run's inputs")

    def run(self, **options: Any) -> None:
        if options["rerun"]:
            handle = workflow_rerun(run=run_get_for_operator(options["rerun"]))
        else:
            if not options["app"]:
                raise InvalidParam("give an app id (or --rerun RUN_ID)")
            try:
                inputs = json.loads(options["inputs"])
            except ValueError as exc:
                raise InvalidParam(f"--inputs is not valid JSON: {exc}") from exc
            handle = workflow_run_start(
                app=app_get_for_operator(options["app"]),
                inputs=inputs,
                user_id=options["user"],
                draft=options["draft"],
                triggered_from="cli",
                query=options["query"],
            )
        task_id = handle.id
        for event in handle.events():
            payload = event_payload(
                event, task_id=task_id, workflow_run_id=handle.id,
                workflow_id=str(handle.workflow.pk),
            )  # fmt: skip
            if payload is not None:
                self.stdout.write(json.dumps(payload, ensure_ascii=False, default=str))
                self.stdout.flush()
        finished = handle.finished
        sys.stdout.flush()
        if finished is None or finished.status == "failed":
            raise CommandError(f"run failed: {finished.error if finished else 'interrupted'}")
