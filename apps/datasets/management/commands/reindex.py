"""``manage.py reindex DATASET [--document ID]``: index documents again (idempotent)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from apps.core.management.scriptable import ScriptableCommand
from apps.datasets import services
from apps.datasets.indexing import RUNNING
from apps.datasets.models import Document
from apps.datasets.selectors import dataset_resolve, document_get
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = "Re-index a dataset's documents (or one); the last line is a JSON summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="dataset id or name")
        parser.add_argument("--document", help="only this document id")
        parser.add_argument("--workspace", help="workspace id or name (for a dataset name)")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"]) if options["workspace"] else None
        dataset = dataset_resolve(options["dataset"], workspace=workspace)
        if options["document"]:
            documents = [document_get(dataset=dataset, document_id=options["document"])]
        else:
            documents = list(dataset.documents.exclude(indexing_status__in=RUNNING))
        for document in documents:
            services.document_reindex(document=document)
        statuses = Document.objects.filter(pk__in=[d.pk for d in documents])
        counts: dict[str, int] = {}
        for status in statuses.values_list("indexing_status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        self.stdout.write(json.dumps({"dataset": str(dataset.pk), "documents": len(documents),
                                      "statuses": counts}))  # fmt: skip
