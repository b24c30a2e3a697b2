"""The PostgreSQL store: pgvector (HNSW, one partial index per dataset) and tsvector.

This is the only module with vector / full-text SQL. Embeddings live in one ``vector``
column without a fixed dimension; each dataset gets partial HNSW indexes over
``embedding::vector(<dim>)`` restricted to its rows, and every semantic query is written
with the same cast and ``dataset_id = '<uuid>'`` so the planner picks that index.
Full-text uses the ``simple`` configuration so any language works.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction

SEGMENTS = "datasets_segment"
CHILDREN = "datasets_childchunk"
DOCUMENTS = "datasets_document"
EF_SEARCH = 100
MAX_QUERY_TERMS = 32


@dataclass
class Hit:
    """A matching segment, with the child chunks that matched (parent-child datasets)."""

    segment_id: str
    score: float
    children: list[tuple[str, float]] = field(default_factory=list)


def parse_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _uuid(value: object) -> str:
    return str(uuid.UUID(str(value)))  # validated: safe to put in SQL text


def index_names(dataset_id: object) -> tuple[str, str]:
    hex_id = uuid.UUID(str(dataset_id)).hex
    return f"seg_hnsw_{hex_id}", f"child_hnsw_{hex_id}"


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


# -- indexes -----------------------------------------------------------------------------------
def ensure_vector_index(*, dataset_id: object, dimensions: int) -> None:
    """Create the dataset's partial HNSW indexes (segments and child chunks) if missing.

    Outside a transaction the build is CONCURRENTLY (no write lock on the shared table);
    an invalid index left by an interrupted concurrent build is dropped and rebuilt."""
    dims = int(dimensions)
    if not 0 < dims <= 16000:
        raise ValueError(f"invalid embedding dimension {dimensions}")
    in_transaction = connection.in_atomic_block
    concurrently = "" if in_transaction else "CONCURRENTLY "
    dataset = _uuid(dataset_id)
    with transaction.atomic() if in_transaction else _nothing(), connection.cursor() as cursor:
        if in_transaction:  # deferred FK checks pending on the table would block CREATE INDEX
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for name, table in zip(index_names(dataset), (SEGMENTS, CHILDREN), strict=True):
            cursor.execute(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = %s",
                [name],
            )
            row = cursor.fetchone()
            if row is not None and row[0]:
                continue
            if row is not None:
                cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")
            cursor.execute(
                f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {table} "
                f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) "
                f"WHERE dataset_id = '{dataset}'"
            )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def drop_vector_index(*, dataset_id: object) -> None:
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for name in index_names(dataset_id):
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


# -- writes ------------------------------------------------------------------------------------
_SEGMENT_TSV = (
    "to_tsvector('simple', content || ' ' || coalesce(answer, '') || ' ' || coalesce("
    "(SELECT string_agg(k, ' ') FROM jsonb_array_elements_text("
    "CASE WHEN jsonb_typeof(keywords) = 'array' THEN keywords ELSE '[]'::jsonb END) AS k), ''))"
)


def refresh_search_vectors(
    *, segment_ids: Iterable[object] = (), child_ids: Iterable[object] = ()
) -> None:
    """Recompute ``search_vector`` (content + answer + keywords; children: content)."""
    segments = [_uuid(i) for i in segment_ids]
    children = [_uuid(i) for i in child_ids]
    with connection.cursor() as cursor:
        if segments:
            cursor.execute(
                f"UPDATE {SEGMENTS} SET search_vector = {_SEGMENT_TSV} WHERE id = ANY(%s::uuid[])",
                [segments],
            )
        if children:
            cursor.execute(
                f"UPDATE {CHILDREN} SET search_vector = to_tsvector('simple', content) "
                "WHERE id = ANY(%s::uuid[])",
                [children],
            )


# -- search ------------------------------------------------------------------------------------
def _scope(alias: str, dataset: str, document_ids: Sequence[str] | None) -> tuple[str, list]:
    """Rows of enabled segments of enabled, completed, non-archived documents.

    Written as "not in the (usually empty) set of excluded documents" so the planner expects
    almost every row to pass and keeps walking the HNSW index (with iterative scan); the
    positive form ("in the set of searchable documents") made it fall back to sorting every
    vector of the dataset once it had ~1,000 documents (bench/README.md)."""
    sql = (
        f"{alias}.dataset_id = '{dataset}' AND NOT ({alias}.document_id = ANY(ARRAY("
        f"SELECT d.id FROM {DOCUMENTS} d WHERE d.dataset_id = '{dataset}' AND NOT (d.enabled "
        "AND NOT d.archived AND d.indexing_status = 'completed'))))"
    )
    params: list = []
    if document_ids is not None:
        sql += f" AND {alias}.document_id = ANY(%s::uuid[])"
        params.append([_uuid(i) for i in document_ids])
    return sql, params


def semantic_sql(
    *, dataset_id: object, dimensions: int, hierarchical: bool, top_k: int,
    document_ids: Sequence[str] | None = None,
) -> tuple[str, list]:  # fmt: skip
    """The k-NN query (also used by the EXPLAIN test). First parameter: the query vector."""
    dataset, dims = _uuid(dataset_id), int(dimensions)
    distance = f"embedding::vector({dims}) <=> %s::vector({dims})"
    if hierarchical:
        scope, params = _scope("c", dataset, document_ids)
        sql = (
            f"SELECT c.segment_id, c.id, 1 - (c.{distance}) AS score FROM {CHILDREN} c "
            f"JOIN {SEGMENTS} s ON s.id = c.segment_id AND s.enabled "
            f"WHERE {scope} AND c.embedding IS NOT NULL ORDER BY c.{distance} LIMIT %s"
        )
    else:
        scope, params = _scope("s", dataset, document_ids)
        sql = (
            f"SELECT s.id, NULL, 1 - (s.{distance}) AS score FROM {SEGMENTS} s "
            f"WHERE {scope} AND s.enabled AND s.embedding IS NOT NULL "
            f"ORDER BY s.{distance} LIMIT %s"
        )
    return sql, ["VECTOR", *params, "VECTOR", top_k]


def semantic_search(
    *, dataset_id: object, dimensions: int, vector: Sequence[float], top_k: int,
    hierarchical: bool = False, document_ids: Sequence[str] | None = None,
) -> list[Hit]:  # fmt: skip
    """Nearest segments by cosine similarity (score = 1 - cosine distance), best first."""
    if document_ids is not None and not document_ids:
        return []
    limit = top_k * 4 if hierarchical else top_k  # several children may share a parent
    sql, params = semantic_sql(
        dataset_id=dataset_id, dimensions=dimensions, hierarchical=hierarchical,
        top_k=limit, document_ids=document_ids,
    )  # fmt: skip
    literal = vector_literal(vector)
    params = [literal if p == "VECTOR" else p for p in params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, min(limit, 1000))}")
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _group(rows, top_k)


def _group(rows: Iterable[tuple], top_k: int) -> list[Hit]:
    """Rows (segment_id, child_id | None, score) → hits by segment, best child score first."""
    hits: dict[str, Hit] = {}
    for segment_id, child_id, score in rows:
        key = str(segment_id)
        hit = hits.setdefault(key, Hit(key, float(score)))
        hit.score = max(hit.score, float(score))
        if child_id is not None:
            hit.children.append((str(child_id), float(score)))
    ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)
    for hit in ranked:
        hit.children.sort(key=lambda c: c[1], reverse=True)
    return ranked[:top_k]


def query_terms(query: str) -> list[str]:
    """The query's lexemes as the ``simple`` configuration normalises them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('simple', %s)))", [query]
        )
        return [row[0] for row in cursor.fetchall()][:MAX_QUERY_TERMS]


def fulltext_search(
    *, dataset_ids: Sequence[object], query: str, top_k: int, hierarchical: bool = False,
    document_ids: Sequence[str] | None = None,
) -> list[Hit]:  # fmt: skip
    """Segments matching any query term (``search_vector @@ tsquery``, GIN index).

    Score (0..1) = the share of the query's information the segment contains: each term
    weighs its inverse document frequency over the searched datasets, so a chunk holding the
    rare words of a question beats one full of "the"; ts_rank_cd breaks ties."""
    terms = query_terms(query)
    if not terms or not dataset_ids or (document_ids is not None and not document_ids):
        return []
    alias = "c" if hierarchical else "s"
    table = (
        f"{CHILDREN} c JOIN {SEGMENTS} s ON s.id = c.segment_id AND s.enabled"
        if hierarchical
        else f"{SEGMENTS} s"
    )
    scopes, params = [], []
    for dataset_id in dataset_ids:
        scope, extra = _scope(alias, _uuid(dataset_id), document_ids)
        scopes.append(f"({scope} AND s.enabled)")
        params += extra
    where = " OR ".join(scopes)
    tsqueries = ["to_tsquery('simple', quote_literal(%s))" for _ in terms]
    counts = ", ".join(f"count(*) FILTER (WHERE {alias}.search_vector @@ {q})" for q in tsqueries)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), {counts} FROM {table} WHERE ({where})", terms + params)
        total, *frequencies = cursor.fetchone() or (0,)
        weights = [math.log((total - df + 0.5) / (df + 0.5) + 1) for df in frequencies]
        full = sum(weights) or 1.0
        any_term = "(" + " || ".join(tsqueries) + ")"
        score = " + ".join(
            f"CASE WHEN {alias}.search_vector @@ {q} THEN {w!r} ELSE 0 END"
            for q, w in zip(tsqueries, weights, strict=True)
        )
        parent = "c.segment_id, c.id" if hierarchical else "s.id, NULL"
        limit = top_k * 4 if hierarchical else top_k
        cursor.execute(
            f"SELECT {parent}, ({score}) / {full!r} AS score FROM {table} "
            f"WHERE ({where}) AND {alias}.search_vector @@ {any_term} "
            f"ORDER BY 3 DESC, ts_rank_cd({alias}.search_vector, {any_term}) DESC LIMIT %s",
            terms + params + terms + terms + [limit],
        )
        rows = cursor.fetchall()
    return _group(rows, top_k)
