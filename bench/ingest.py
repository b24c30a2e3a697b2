#!/usr/bin/env python
"""Knowledge-base ingest benchmark: chunks/s through the real indexing pipeline next to the
raw MiniLM encode rate on the same chunks, in the same process.

Each generated document goes through ``services.document_create_from_text`` (without Redis
the indexing task runs eagerly in the call: extract -> clean -> split -> embed -> upsert
segments + search_vector -> completed), timed from the call to the completed document, on a
throw-away embedded PostgreSQL 18 + pgvector in a temp dir. The same chunk texts (the app's
own clean + split, checked against the stored segments) are then encoded by the bare
SentenceTransformer the provider uses (``load_minilm()``, batch size 64 as the pipeline),
once before and once after the pipeline run; the raw rate is the mean of the two.

Two variants: short chunks (one 2-3 sentence paragraph each, ~45-60 tokens) and long chunks
(12-14 sentences, ~215 tokens: under MiniLM's 256 word-piece limit).

    python bench/ingest.py [--quick] [--json] [--profile]

With --json the last line printed is one JSON object with the figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _platform as P  # noqa: E402

TARGET_RATIO = 0.9
VARIANTS: dict[str, dict[str, Any]] = {
    # sentences per chunk, the rule's max_tokens (every paragraph fits: one chunk each)
    "short": {"sentences": (2, 3), "max_tokens": 120},
    "long": {"sentences": (12, 14), "max_tokens": 500},
    # short chunks into a dataset that already has its HNSW index (not in the "all" figure:
    # it shows what a large dataset's ingest costs on top)
    "short_indexed": {"sentences": (2, 3), "max_tokens": 120, "base": "short", "indexed": True},
}
AGGREGATE = ("short", "long")
SIZES: dict[str, dict[str, tuple[int, int]]] = {  # variant -> (documents, chunks per document)
    "smoke": {"short": (1, 20), "long": (1, 4), "short_indexed": (1, 20)},
    "quick": {"short": (5, 64), "long": (2, 40), "short_indexed": (3, 64)},
    "full": {"short": (20, 100), "long": (8, 60), "short_indexed": (10, 100)},
}


def say(text: str = "") -> None:
    print(text, flush=True)


def process_rule(max_tokens: int) -> dict[str, Any]:
    return {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": True},
                {"id": "remove_urls_emails", "enabled": False},
            ],
            "segmentation": {"separator": "\\n\\n", "max_tokens": max_tokens, "chunk_overlap": 0},
        },
    }


def documents(variant: str, count: int, chunks: int, seed: int) -> list[str]:
    """``count`` documents of ``chunks`` paragraphs each (one topic per document)."""
    rng = random.Random(seed)
    low, high = VARIANTS[variant]["sentences"]  # variant: "short" or "long"
    topics = sorted(P.TOPICS)
    docs = []
    for d in range(count):
        topic = topics[(seed + d) % len(topics)]
        paragraphs = [P.paragraph(rng, topic, rng.randint(low, high)) for _ in range(chunks)]
        docs.append("\n\n".join(paragraphs))
    return docs


def expected_chunks(text: str, rule: dict[str, Any]) -> list[str]:
    """The chunks the pipeline makes of ``text`` (the app's own clean + split)."""
    from apps.datasets.rag.cleaning import clean_text
    from apps.datasets.rag.process_rule import process_rule_settings
    from apps.datasets.rag.splitting import split_general

    split = process_rule_settings(rule)
    cleaned = clean_text(text, split.pre_processing_rules)
    return [p for p in split_general(cleaned, **split.general_kwargs()) if p.strip()]


# -- where the pipeline's time goes -----------------------------------------------------------
class Timers:
    """Exclusive wall time per label: wrapped functions push onto a stack (one per thread),
    so a wrapper's own time excludes the wrapped functions it calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        had_own = name in vars(owner) if hasattr(owner, "__dict__") else True
        timers = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = timers.local.__dict__.setdefault("stack", [])
            frame = [label, 0.0]
            stack.append(frame)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                stack.pop()
                with timers.lock:
                    timers.seconds[label] += elapsed - frame[1]
                    timers.calls[label] += 1
                if stack:
                    stack[-1][1] += elapsed

        setattr(owner, name, timed)

        def restore() -> None:
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

        self.undo.append(restore)

    def restore(self) -> None:
        while self.undo:
            self.undo.pop()()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def instrument(timers: Timers, model: Any) -> None:
    from apps.datasets import indexing, services, stores, tasks
    from apps.providers import services as provider_services
    from apps.providers.runtime import minilm

    timers.wrap(services, "document_create_from_text", "service call (other)")
    timers.wrap(services, "_new_document", "create document (row + stored file)")
    timers.wrap(tasks.indexing, "run_indexing", "task run (other)")
    timers.wrap(indexing, "_claim", "claim document")
    timers.wrap(indexing, "_touch", "status / heartbeat updates")
    timers.wrap(indexing, "document_text", "extract (read file, text)")
    timers.wrap(indexing, "clean_text", "clean")
    timers.wrap(indexing, "plan_chunks", "split (incl. token counts)")
    timers.wrap(indexing, "_write_plan", "plan (existing segments)")
    timers.wrap(indexing, "_pipeline", "pipeline (other: pause checks, totals)")
    timers.wrap(indexing.Embedder, "embed", "embed: pipeline wrapper")
    timers.wrap(provider_services.WorkspaceModelRuntime, "embed", "embed: runtime (model lookup)")
    timers.wrap(minilm.MiniLMProvider, "embed", "embed: provider (to float lists)")
    timers.wrap(minilm, "_count_tokens", "embed: usage token count")
    timers.wrap(model, "encode", "embed: model.encode")
    timers.wrap(stores, "ensure_vector_index_quietly", "vector index check / build")
    timers.wrap(indexing, "count_tokens", "segment token counts (tiktoken)")
    timers.wrap(indexing, "_embed_batch", "embed: batch (vectors to binary)")
    timers.wrap(indexing, "_write_batch", "DB write: batch rows")
    timers.wrap(stores, "upsert_segments", "DB write: segment upsert (1 statement)")
    timers.wrap(stores, "replace_children", "DB write: child chunks")
    timers.wrap(indexing, "_heartbeat_paused", "heartbeat + pause check (per batch)")


class SqlSeconds:
    """Time of the SQL statements run through Django's cursors (server + driver) by kind
    (Django execute_wrapper). The segment upsert goes through a binary-parameter cursor
    that Django does not see: its time is the "DB write: segment upsert" row."""

    KINDS = (
        ("RETURNING is_paused", "heartbeat + pause check"),
        ("CREATE INDEX", "CREATE INDEX"),
        ("pg_index", "index check"),
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = next((name for needle, name in self.KINDS if needle in sql), "other SQL")
            self.seconds[kind] += time.perf_counter() - started


# -- one variant ----------------------------------------------------------------------------------
@contextmanager
def index_threshold(rows: int | None) -> Iterator[None]:
    """DATASET_VECTOR_INDEX_MIN_ROWS for a variant ("indexed": 0, i.e. the dataset's HNSW
    index exists from its first document on, as for any dataset above the threshold)."""
    from django.conf import settings

    old = settings.DATASET_VECTOR_INDEX_MIN_ROWS
    if rows is not None:
        settings.DATASET_VECTOR_INDEX_MIN_ROWS = rows
    try:
        yield
    finally:
        settings.DATASET_VECTOR_INDEX_MIN_ROWS = old


def raw_encode(model: Any, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    type(model).encode(  # the class's method: never the timed wrapper on the instance
        model,
        texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
        show_progress_bar=False,
    )  # fmt: skip
    return time.perf_counter() - started


def run_variant(
    workspace: Any, variant: str, docs: int, per_doc: int, timers: Timers, profile: bool
) -> dict[str, Any]:
    from django.db import connection

    from apps.datasets import services, stores
    from apps.datasets.indexing import BATCH_SIZE, Chunk, _batches
    from apps.datasets.models import Document, Segment
    from apps.providers.runtime.minilm import load_minilm

    model = load_minilm()
    base = VARIANTS[variant].get("base", variant)
    rule = process_rule(VARIANTS[variant]["max_tokens"])
    dataset = P.new_dataset(workspace, f"ingest {variant}")
    texts = documents(base, docs, per_doc, seed=len(variant) * 101)
    per_document = [expected_chunks(t, rule) for t in texts]
    chunks = [c for doc in per_document for c in doc]

    # warm-up of both: a small document through the pipeline (model, tokenizers, the
    # dataset's HNSW index, Django's queries), and a few raw batches
    warm = documents(base, 1, 8, seed=7)[0]
    services.document_create_from_text(
        dataset=dataset, name="warm-up", text=warm, process_rule=rule
    )
    indexed = stores.vector_index_exists(dataset_id=dataset.pk)
    raw_encode(model, chunks[: BATCH_SIZE * 2], BATCH_SIZE)

    raw_before = raw_encode(model, chunks, BATCH_SIZE)
    timers.reset()
    profiler = cProfile.Profile() if profile else None
    walls = []
    created = []
    sql = SqlSeconds()
    for i, text in enumerate(texts):
        if profiler:
            profiler.enable()
        with connection.execute_wrapper(sql):
            started = time.perf_counter()
            document = services.document_create_from_text(
                dataset=dataset, name=f"{variant} {i + 1}", text=text, process_rule=rule
            )
            walls.append(time.perf_counter() - started)
        if profiler:
            profiler.disable()
        created.append(document.pk)
    pipeline_s = sum(walls)
    breakdown = dict(timers.seconds)
    raw_after = raw_encode(model, chunks, BATCH_SIZE)
    # the same texts in the pipeline's grouping (per document, batches of <= 64 by length)
    grouped = 0.0
    for doc in per_document:
        pieces = [Chunk(i, text) for i, text in enumerate(doc, start=1)]
        for batch in _batches(pieces, hierarchical=False):
            grouped += raw_encode(model, [c.content for c in batch], BATCH_SIZE)

    statuses = set(
        Document.objects.filter(pk__in=created).values_list("indexing_status", flat=True)
    )
    stored = list(
        Segment.objects.filter(document_id__in=created)
        .order_by("document__position", "position")
        .values_list("content", flat=True)
    )
    if statuses != {"completed"}:
        raise SystemExit(f"ingest: documents ended in {statuses}, expected completed")
    if stored != chunks:
        raise SystemExit("ingest: the stored segments differ from the expected chunks")

    n = len(chunks)
    raw_s = (raw_before + raw_after) / 2
    from apps.datasets.rag.tokens import count_tokens

    tokens = [count_tokens(c) for c in chunks]
    word_pieces = [len(ids) for ids in model.tokenizer(chunks, truncation=False)["input_ids"]]
    result = {
        "documents": docs,
        "chunks": n,
        "hnsw_index_during_ingest": indexed,
        "mean_chunk_tokens_cl100k": round(sum(tokens) / n, 1),
        "mean_chunk_word_pieces": round(sum(word_pieces) / n, 1),
        "truncated_chunks": sum(1 for w in word_pieces if w > model.max_seq_length),
        "pipeline_seconds": round(pipeline_s, 3),
        "chunks_per_s": round(n / pipeline_s, 2),
        "raw_seconds_before": round(raw_before, 3),
        "raw_seconds_after": round(raw_after, 3),
        "raw_embedder_chunks_per_s": round(n / raw_s, 2),
        "raw_same_batches_chunks_per_s": round(n / grouped, 2),
        "ratio_to_raw_embedder": round(raw_s / pipeline_s, 4),
        "ratio_to_raw_same_batches": round(grouped / pipeline_s, 4),
        "breakdown_seconds": {
            k: round(v, 4) for k, v in sorted(breakdown.items(), key=lambda item: -item[1])
        },
        "breakdown_calls": dict(timers.calls),
        "unattributed_seconds": round(pipeline_s - sum(breakdown.values()), 4),
        "sql_seconds": {
            k: round(v, 4) for k, v in sorted(sql.seconds.items(), key=lambda item: -item[1])
        },
    }
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        result["_profile"] = out.getvalue()
    return result


def print_variant(name: str, row: dict[str, Any]) -> None:
    wall = row["pipeline_seconds"]
    say(
        f"{name}: {row['chunks']} chunks in {row['documents']} documents, mean "
        f"{row['mean_chunk_tokens_cl100k']:.0f} tokens (cl100k) / "
        f"{row['mean_chunk_word_pieces']:.0f} word pieces, {row['truncated_chunks']} truncated "
        f"at 256"
    )
    indexed = row["hnsw_index_during_ingest"]
    say(
        "  dataset's HNSW index during the timed ingest: "
        + ("yes (each insert also goes into the graph)" if indexed else "no (below the threshold)")
    )
    say(f"  {'pipeline, end to end':<38} {row['chunks_per_s']:>8.1f} chunks/s  ({wall:.2f} s)")
    say(
        f"  {'raw MiniLM encode, batch 64':<38} {row['raw_embedder_chunks_per_s']:>8.1f} chunks/s  "
        f"(before {row['raw_seconds_before']:.2f} s, after {row['raw_seconds_after']:.2f} s)"
    )
    say(
        f"  {'raw, the pipeline batches':<38} {row['raw_same_batches_chunks_per_s']:>8.1f} chunks/s"
    )
    say(
        f"  ratio pipeline / raw: {row['ratio_to_raw_embedder']:.3f} "
        f"(vs raw in the pipeline's batches: {row['ratio_to_raw_same_batches']:.3f})"
    )
    say(f"  where the pipeline's {wall:.2f} s go (exclusive time):")
    for label, seconds in row["breakdown_seconds"].items():
        per_chunk = seconds / row["chunks"] * 1000
        say(f"    {label:<42} {seconds:8.3f} s {seconds / wall:7.1%} {per_chunk:8.2f} ms/chunk")
    say(f"    {'(outside the timers)':<42} {row['unattributed_seconds']:8.3f} s")
    say(
        "  SQL statements (server + driver, included above): "
        + ", ".join(
            f"{k} {v:.3f} s ({v / row['chunks'] * 1000:.2f} ms/chunk)"
            for k, v in row["sql_seconds"].items()
        )
    )
    if row["ratio_to_raw_embedder"] < TARGET_RATIO:
        top = [(k, v) for k, v in row["breakdown_seconds"].items() if k != "embed: model.encode"]
        say(
            "  below the target ratio; the top costs besides model.encode: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in top[:4])
        )
    if "_profile" in row:
        say(row["_profile"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="under a minute: fewer chunks")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--profile", action="store_true", help="cProfile the pipeline runs")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    begun = time.perf_counter()
    machine = P.machine()
    timings = P.start("dify-bench-ingest-")
    say(
        f"ingest benchmark ({mode}): embedded PostgreSQL started in "
        f"{timings['server_start_s']:.1f} s, migrated in {timings['migrate_s']:.1f} s; "
        f"{machine['cpus']} CPUs, load {machine['load_average_1m_at_start']}"
    )
    import torch

    from apps.providers.runtime.minilm import load_minilm

    started = time.perf_counter()
    model = load_minilm()
    say(
        f"MiniLM loaded in {time.perf_counter() - started:.1f} s; torch threads "
        f"{torch.get_num_threads()}"
    )
    workspace = P.workspace_with_minilm("ingest")
    timers = Timers()
    instrument(timers, model)
    variants: dict[str, dict[str, Any]] = {}
    try:
        for name, (docs, per_doc) in SIZES[mode].items():
            with index_threshold(0 if VARIANTS[name].get("indexed") else None):
                variants[name] = run_variant(workspace, name, docs, per_doc, timers, args.profile)
    finally:
        timers.restore()
    say()
    for name, row in variants.items():
        print_variant(name, row)
        say()
    counted = [v for k, v in variants.items() if k in AGGREGATE]
    chunks = sum(v["chunks"] for v in counted)
    pipeline_s = sum(v["pipeline_seconds"] for v in counted)
    raw_s = sum(v["chunks"] / v["raw_embedder_chunks_per_s"] for v in counted)
    ratio = raw_s / pipeline_s
    seconds = time.perf_counter() - begun
    say(
        f"short + long: {chunks} chunks, pipeline {chunks / pipeline_s:.1f} chunks/s, raw "
        f"{chunks / raw_s:.1f} chunks/s, ratio {ratio:.3f} (target >= {TARGET_RATIO}: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); total {seconds:.0f} s"
    )
    figures = {
        "mode": mode,
        "chunks": chunks,
        "chunks_per_s": round(chunks / pipeline_s, 2),
        "raw_embedder_chunks_per_s": round(chunks / raw_s, 2),
        "ratio_to_raw_embedder": round(ratio, 4),
        "variants": {
            k: {key: value for key, value in v.items() if not key.startswith("_")}
            for k, v in variants.items()
        },
        "batch_size": 64,
        "targets": {"ratio_to_raw_embedder_min": TARGET_RATIO},
        "meets_targets": {
            "ratio_to_raw_embedder": ratio >= TARGET_RATIO,
            **{
                f"ratio_{k}": v["ratio_to_raw_embedder"] >= TARGET_RATIO
                for k, v in variants.items()
            },
        },
        "machine": machine,
        "seconds": round(seconds, 1),
    }
    if args.json:
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
