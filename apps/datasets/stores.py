"""The PostgreSQL store: pgvector (HNSW, one partial index per dataset), the segment writes
of the indexing pipeline, and the k-NN query (full-text search lives in ``fulltext``).

Embeddings live in one ``vector`` column without a fixed dimension; each dataset gets partial
HNSW indexes over ``embedding::vector(<dim>)`` restricted to its rows, and every semantic
query is written with the same cast and ``dataset_id = '<uuid>'`` so the planner picks that
index. A dataset gets its index once it holds ``DATASET_VECTOR_INDEX_MIN_ROWS`` embedded
rows: below that an exact scan is as fast, and not maintaining a graph on every insert
keeps ingest cheap. Full-text uses the ``simple`` configuration so any language works.
"""

from __future__ import annotations

import logging
import struct
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg.adapt import Dumper
from psycopg.pq import Format

logger = logging.getLogger(__name__)

SEGMENTS = "datasets_segment"
CHILDREN = "datasets_childchunk"
DOCUMENTS = "datasets_document"


def hnsw_m() -> int:
    return int(getattr(settings, "DATASET_HNSW_M", 16))


def hnsw_ef_construction() -> int:
    return int(getattr(settings, "DATASET_HNSW_EF_CONSTRUCTION", 128))


def ef_search() -> int:
    return int(getattr(settings, "DATASET_HNSW_EF_SEARCH", 100))


def index_min_rows() -> int:
    return int(getattr(settings, "DATASET_VECTOR_INDEX_MIN_ROWS", 2000))


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
def vector_index_exists(*, dataset_id: object) -> bool:
    """Both HNSW indexes of the dataset exist and are valid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = ANY(%s) AND i.indisvalid",
            [list(index_names(dataset_id))],
        )
        row = cursor.fetchone()
    return bool(row and row[0] == 2)


def embedded_rows(*, dataset_id: object, limit: int) -> int:
    """Rows of the dataset with an embedding (segments + child chunks), counted up to
    ``limit`` each (a bounded scan)."""
    dataset = _uuid(dataset_id)
    parts = [
        f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE dataset_id = '{dataset}' "
        f"AND embedding IS NOT NULL LIMIT %s) AS t)"
        for table in (SEGMENTS, CHILDREN)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {' + '.join(parts)}", [limit, limit])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def ensure_vector_index(
    *, dataset_id: object, dimensions: int, min_rows: int | None = None
) -> bool:
    """Create the dataset's partial HNSW indexes (segments and child chunks) if missing;
    with ``min_rows``, only once the dataset holds that many embedded rows. Returns whether
    the indexes exist afterwards.

    Outside a transaction the build is CONCURRENTLY (no write lock on the shared table);
    an invalid index left by an interrupted concurrent build is dropped and rebuilt. ``m``
    and ``ef_construction`` come from DATASET_HNSW_M / DATASET_HNSW_EF_CONSTRUCTION."""
    dims = int(dimensions)
    if not 0 < dims <= 16000:
        raise ValueError(f"invalid embedding dimension {dimensions}")
    if vector_index_exists(dataset_id=dataset_id):
        return True
    if min_rows and embedded_rows(dataset_id=dataset_id, limit=min_rows) < min_rows:
        return False
    in_transaction = connection.in_atomic_block
    concurrently = "" if in_transaction else "CONCURRENTLY "
    dataset = _uuid(dataset_id)
    options = f"m = {hnsw_m()}, ef_construction = {hnsw_ef_construction()}"
    with (
        transaction.atomic() if in_transaction else _nothing(),
        connection.cursor() as cursor,
        _build_lock(cursor, dataset) as mine,
    ):
        if not mine:
            return False  # another worker is building it (an invalid index here is theirs)
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
                f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WITH ({options}) "
                f"WHERE dataset_id = '{dataset}'"
            )
    return True


def ensure_vector_index_quietly(*, dataset_id: object, dimensions: int) -> bool:
    """``ensure_vector_index`` with the row threshold, for the indexing pipeline: a failed
    build (e.g. two workers racing on the same dataset) is logged, not raised; the next
    document (or segment write) of the dataset tries again, and search works meanwhile
    (an exact scan)."""
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failure leaves the outer block usable
                return ensure_vector_index(
                    dataset_id=dataset_id, dimensions=dimensions, min_rows=index_min_rows()
                )
        return ensure_vector_index(
            dataset_id=dataset_id, dimensions=dimensions, min_rows=index_min_rows()
        )
    except DatabaseError:
        logger.warning("building the HNSW index of dataset %s failed", dataset_id, exc_info=True)
        return False


@contextmanager
def _nothing() -> Iterator[None]:
    yield


BUILD_LOCK_CLASS = 0x6B62  # advisory lock namespace of the HNSW builds ("kb")


@contextmanager
def _build_lock(cursor: Any, dataset: str) -> Iterator[bool]:
    """An advisory lock per dataset: one build at a time, and nobody drops an index another
    session is building. Session-level outside a transaction (CREATE INDEX CONCURRENTLY
    cannot run in one), released here; transaction-level inside one."""
    if connection.in_atomic_block:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [BUILD_LOCK_CLASS, dataset]
        )
        row = cursor.fetchone()
        yield bool(row and row[0])
        return
    cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [BUILD_LOCK_CLASS, dataset])
    row = cursor.fetchone()
    locked = bool(row and row[0])
    try:
        yield locked
    finally:
        if locked:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", [BUILD_LOCK_CLASS, dataset]
            )


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


class VectorBatch:
    """Embeddings of a batch, sent to PostgreSQL as one binary ``vector[]`` parameter
    (pgvector's wire format, built with numpy): no text formatting or parsing of floats."""

    __slots__ = ("matrix",)

    def __init__(self, vectors: Sequence[Sequence[float]]):
        self.matrix = np.asarray(vectors, dtype=">f4")
        if self.matrix.ndim != 2:
            raise ValueError("embeddings must be a list of equally long vectors")

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def to_binary(self, element_oid: int) -> bytes:
        rows, dims = self.matrix.shape
        element = struct.pack(">iHH", 4 + 4 * dims, dims, 0)  # length, then vector_send
        body = np.empty((rows, 8 + 4 * dims), dtype=np.uint8)
        body[:, :8] = np.frombuffer(element, dtype=np.uint8)
        body[:, 8:] = self.matrix.view(np.uint8).reshape(rows, 4 * dims)
        header = struct.pack(">iiiii", 1, 0, element_oid, rows, 1)  # array_send, 1-D
        return header + body.tobytes()


_dumpers: weakref.WeakKeyDictionary[Any, type[Dumper]] = weakref.WeakKeyDictionary()


def _vector_dumper(raw: psycopg.Connection) -> type[Dumper]:
    dumper = _dumpers.get(raw)
    if dumper is None:
        row = raw.execute("SELECT 'vector'::regtype::oid, 'vector[]'::regtype::oid").fetchone()
        assert row is not None
        element_oid, array_oid = int(row[0]), int(row[1])

        class VectorBatchDumper(Dumper):
            format = Format.BINARY
            oid = array_oid

            def dump(self, obj: VectorBatch) -> bytes:
                return obj.to_binary(element_oid)

        dumper = _dumpers[raw] = VectorBatchDumper
    return dumper


@contextmanager
def _binary_cursor() -> Iterator[psycopg.Cursor]:
    """A server-side-binding cursor on Django's connection (same session and transaction)
    that can send ``VectorBatch`` parameters in binary; Django's own cursors bind on the
    client, as text."""
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    raw = connection.connection
    with psycopg.Cursor(raw) as cursor:
        cursor.adapters.register_dumper(VectorBatch, _vector_dumper(raw))
        yield cursor


@dataclass
class SegmentRow:
    position: int
    content: str
    tokens: int
    index_node_hash: str


def upsert_segments(
    *, workspace_id: object, dataset_id: object, document_id: object,
    rows: Sequence[SegmentRow], vectors: VectorBatch | None,
) -> dict[int, uuid.UUID]:  # fmt: skip
    """Insert or update the segments at these positions of the document, embeddings and
    ``search_vector`` included, in one statement; returns {position: segment id}.

    A re-indexed segment keeps its id, ``enabled`` and hit count and gets ``answer`` and
    ``keywords`` reset (as a newly split chunk), so its search vector is its content's."""
    if vectors is not None and len(vectors) != len(rows):
        raise ValueError("one embedding per segment")
    ids = [uuid.uuid4() for _ in rows]
    sql = (
        f"INSERT INTO {SEGMENTS} (id, workspace_id, dataset_id, document_id, position, "
        "content, answer, word_count, tokens, keywords, index_node_id, index_node_hash, "
        "enabled, status, error, embedding, search_vector, created_at, updated_at) "
        "SELECT u.id, %s, %s, %s, u.position, u.content, '', length(u.content), u.tokens, "
        "'[]'::jsonb, u.id::text, u.hash, true, 'completed', '', u.embedding, "
        "to_tsvector('simple', u.content), now(), now() "
        "FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::int[], %s::text[], %s::vector[]) "
        "AS u(id, position, content, tokens, hash, embedding) "
        "ON CONFLICT (document_id, position) DO UPDATE SET content = EXCLUDED.content, "
        "answer = EXCLUDED.answer, word_count = EXCLUDED.word_count, tokens = EXCLUDED.tokens, "
        "keywords = EXCLUDED.keywords, index_node_hash = EXCLUDED.index_node_hash, "
        "status = EXCLUDED.status, error = EXCLUDED.error, embedding = EXCLUDED.embedding, "
        "search_vector = EXCLUDED.search_vector, updated_at = EXCLUDED.updated_at "
        "RETURNING position, id"
    )
    params = [
        _uuid(workspace_id), _uuid(dataset_id), _uuid(document_id), ids,
        [r.position for r in rows], [r.content for r in rows], [r.tokens for r in rows],
        [r.index_node_hash for r in rows], vectors,
    ]  # fmt: skip
    with _binary_cursor() as cursor:
        cursor.execute(sql, params)
        return {int(position): segment_id for position, segment_id in cursor.fetchall()}


@dataclass
class ChildRow:
    segment_id: uuid.UUID
    position: int
    content: str
    tokens: int


def replace_children(
    *, workspace_id: object, dataset_id: object, document_id: object,
    segment_ids: Sequence[uuid.UUID], rows: Sequence[ChildRow], vectors: VectorBatch | None,
) -> None:  # fmt: skip
    """Replace the child chunks of these segments (two statements: delete, insert with
    embeddings and ``search_vector``). Call inside a transaction."""
    if vectors is not None and len(vectors) != len(rows):
        raise ValueError("one embedding per child chunk")
    ids = [uuid.uuid4() for _ in rows]
    with _binary_cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {CHILDREN} WHERE segment_id = ANY(%s::uuid[])", [list(segment_ids)]
        )
        if not rows:
            return
        cursor.execute(
            f"INSERT INTO {CHILDREN} (id, workspace_id, dataset_id, document_id, segment_id, "
            "position, content, word_count, tokens, index_node_id, embedding, search_vector, "
            "created_at, updated_at) "
            "SELECT u.id, %s, %s, %s, u.segment_id, u.position, u.content, length(u.content), "
            "u.tokens, u.id::text, u.embedding, to_tsvector('simple', u.content), now(), now() "
            "FROM unnest(%s::uuid[], %s::uuid[], %s::int[], %s::text[], %s::int[], "
            "%s::vector[]) AS u(id, segment_id, position, content, tokens, embedding)",
            [
                _uuid(workspace_id), _uuid(dataset_id), _uuid(document_id), ids,
                [r.segment_id for r in rows], [r.position for r in rows],
                [r.content for r in rows], [r.tokens for r in rows], vectors,
            ],
        )  # fmt: skip


# -- search ------------------------------------------------------------------------------------
def scope(alias: str, dataset: str, document_ids: Sequence[str] | None) -> tuple[str, list]:
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
        where, params = scope("c", dataset, document_ids)
        sql = (
            f"SELECT c.segment_id, c.id, 1 - (c.{distance}) AS score FROM {CHILDREN} c "
            f"JOIN {SEGMENTS} s ON s.id = c.segment_id AND s.enabled "
            f"WHERE {where} AND c.embedding IS NOT NULL ORDER BY c.{distance} LIMIT %s"
        )
    else:
        where, params = scope("s", dataset, document_ids)
        sql = (
            f"SELECT s.id, NULL, 1 - (s.{distance}) AS score FROM {SEGMENTS} s "
            f"WHERE {where} AND s.enabled AND s.embedding IS NOT NULL "
            f"ORDER BY s.{distance} LIMIT %s"
        )
    return sql, ["VECTOR", *params, "VECTOR", top_k]


SEARCH_SETTINGS_SQL = (
    "SELECT set_config('hnsw.ef_search', %s, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)


def search_ef(limit: int) -> int:
    """``hnsw.ef_search`` for a query returning ``limit`` rows (DATASET_HNSW_EF_SEARCH, at
    least the limit, at most pgvector's 1000)."""
    return max(1, min(max(ef_search(), limit), 1000))


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
    with connection.cursor() as cursor:
        # one round trip: both statements run as one (implicit) transaction, so the
        # transaction-local settings hold for the k-NN query and end with it
        cursor.execute(f"{SEARCH_SETTINGS_SQL}; {sql}", [str(search_ef(limit)), *params])
        cursor.nextset()
        rows = cursor.fetchall()
    return group_hits(rows, top_k)


def group_hits(rows: Iterable[tuple], top_k: int) -> list[Hit]:
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
