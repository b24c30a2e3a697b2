"""``manage.py ingest DATASET PATH_OR_URL…``: index files, folders and URLs into a dataset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from apps.core.errors import AppError
from apps.core.management.scriptable import ScriptableCommand
from apps.datasets import services
from apps.datasets.models import Document
from apps.datasets.selectors import dataset_resolve
from apps.tenants.selectors import workspace_resolve
from apps.workflows.engine.extract import EXTRACTORS


class Command(ScriptableCommand):
    help = (
        "Ingest files, folders (--recursive) and http(s) URLs into a dataset (id or name). "
        "Progress on stderr; the last line is a JSON summary; exit 1 if any file failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="dataset id or name")
        parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument("--recursive", action="store_true", help="descend into folders")
        parser.add_argument("--chunk-size", type=int, help="max tokens per chunk (custom rule)")
        parser.add_argument("--chunk-overlap", type=int, help="overlap tokens (custom rule)")
        parser.add_argument("--workspace", help="workspace id or name (for a dataset name)")

    def run(self, **options: Any) -> None:
        workspace = workspace_resolve(options["workspace"]) if options["workspace"] else None
        dataset = dataset_resolve(options["dataset"], workspace=workspace)
        rule = _process_rule(options["chunk_size"], options["chunk_overlap"])
        sources = _expand(options["sources"], options["recursive"])
        if not sources:
            raise CommandError("no files to ingest")
        batch, started = services.new_batch(), time.monotonic()
        failures: list[str] = []
        documents = chunks = tokens = 0
        for number, source in enumerate(sources, start=1):
            label = f"[{number}/{len(sources)}] {source}"
            self._progress(label, "…")
            try:
                document = _create(dataset, source, rule, batch)
            except (AppError, OSError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                failures.append(f"{source}: {message}")
                self._progress(label, f"failed: {message}", end=True)
                continue
            document.refresh_from_db()
            count = document.segments.count()
            if document.indexing_status == Document.Status.ERROR:
                failures.append(f"{source}: {document.error}")
                self._progress(label, f"failed: {document.error}", end=True)
                continue
            documents, chunks, tokens = documents + 1, chunks + count, tokens + document.tokens
            self._progress(label, f"{document.indexing_status}, {count} chunks", end=True)
        seconds = round(time.monotonic() - started, 2)
        for failure in failures:
            self.stderr.write(f"failed: {failure}")
        summary = {
            "dataset": str(dataset.pk), "batch": batch, "documents": documents,
            "chunks": chunks, "tokens": tokens, "failed": len(failures), "seconds": seconds,
        }  # fmt: skip
        self.stdout.write(
            f"{documents} documents, {chunks} chunks, {tokens} tokens, {seconds} s"
            + (f", {len(failures)} failed" if failures else "")
        )
        self.stdout.write(json.dumps(summary))
        if failures:
            raise CommandError(f"{len(failures)} of {len(sources)} file(s) failed")

    def _progress(self, label: str, state: str, *, end: bool = False) -> None:
        bar = "#" * 20 if end else "#" * 10 + "." * 10
        self.stderr.write(f"{label} [{bar}] {state}", ending="\n" if end else "\r")
        if hasattr(self.stderr, "flush"):
            self.stderr.flush()


def _process_rule(size: int | None, overlap: int | None) -> dict | None:
    if size is None and overlap is None:
        return None
    return {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
            "segmentation": {"separator": "\n\n", "max_tokens": size or 500,
                             "chunk_overlap": overlap if overlap is not None else 50},
        },
    }  # fmt: skip


def _expand(sources: list[str], recursive: bool) -> list[str]:
    found: list[str] = []
    for source in sources:
        if source.lower().startswith(("http://", "https://")):
            found.append(source)
            continue
        path = Path(source)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found += sorted(
                str(p) for p in path.glob(pattern)
                if p.is_file() and p.suffix.lower().lstrip(".") in EXTRACTORS
            )  # fmt: skip
        else:
            found.append(source)
    return found


def _create(dataset: Any, source: str, rule: dict | None, batch: str) -> Document:
    if source.lower().startswith(("http://", "https://")):
        return services.document_create_from_url(
            dataset=dataset, url=source, process_rule=rule, created_from="cli", batch=batch
        )
    path = Path(source)
    if not path.is_file():
        raise OSError(f"no such file: {source}")
    return services.document_create_from_file(
        dataset=dataset, filename=path.name, content=path.read_bytes(), process_rule=rule,
        created_from="cli", batch=batch,
    )  # fmt: skip
