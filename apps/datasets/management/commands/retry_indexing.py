"""``manage.py retry_indexing [DATASET]``: re-queue failed, paused and stale documents."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandParser
from django.db.models import Q
from django.utils import timezone

from apps.core.management.scriptable import ScriptableCommand
from apps.datasets import services
from apps.datasets.indexing import RUNNING, stale_seconds
from apps.datasets.models import Document
from apps.datasets.selectors import dataset_resolve
from apps.tenants.selectors import workspace_resolve


class Command(ScriptableCommand):
    help = (
        "Retry documents in error, paused or stuck (stale heartbeat) in one dataset or all; "
        "the last line is a JSON summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", nargs="?", help="dataset id or name (default: all)")
        parser.add_argument("--workspace", help="workspace id or name (for a dataset name)")

    def run(self, **options: Any) -> None:
        documents = Document.objects.all()
        if options["dataset"]:
            workspace = workspace_resolve(options["workspace"]) if options["workspace"] else None
            documents = documents.filter(
                dataset=dataset_resolve(options["dataset"], workspace=workspace)
            )
        cutoff = timezone.now() - timedelta(seconds=stale_seconds())
        stale = Q(indexing_status__in=[Document.Status.WAITING, *RUNNING], heartbeat_at__lt=cutoff)
        failed = Q(indexing_status__in=[Document.Status.ERROR, Document.Status.PAUSED])
        retried = 0
        for document in documents.filter(failed | stale | Q(is_paused=True)):
            Document.objects.filter(pk=document.pk).update(indexing_status=Document.Status.ERROR)
            services.document_retry(document=document)
            retried += 1
        completed = documents.filter(indexing_status=Document.Status.COMPLETED).count()
        errors = documents.filter(indexing_status=Document.Status.ERROR).count()
        self.stdout.write(json.dumps({"retried": retried, "completed": completed,
                                      "error": errors}))  # fmt: skip
