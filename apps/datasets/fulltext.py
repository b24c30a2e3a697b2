"""Full-text search over segments (or child chunks): ``search_vector @@ tsquery`` on the GIN
index, scored by the share of the query's information a row contains.

Each query term weighs its inverse document frequency over the searched datasets, so a
chunk holding the rare words of a question beats one full of "the"; ``ts_rank_cd`` breaks
ties. Two things keep a query's cost bounded by the rows that can win rather than by the
dataset's size:

- **Term statistics** (rows per dataset, rows per term) are cached per process for
  DATASET_FULLTEXT_STATS_TTL seconds: they only weigh the terms, and counting a word like
  "the" means visiting most of the dataset.
- **Candidate pruning** (MaxScore): only rows matching the query's rarest terms (together
  at most DATASET_FULLTEXT_CANDIDATES rows) are scored. A row matching none of them scores
  at most the summed weight of the other terms; when the last of the best rows among the
  candidates scores more than that, the result is exactly the exhaustive one. Otherwise
  the query is run again over every matching row.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from django.conf import settings
from django.db import connection

from apps.datasets.stores import CHILDREN, SEGMENTS, Hit, _uuid, group_hits, scope

MAX_QUERY_TERMS = 32
_TERMS_CACHE_SIZE = 4096
_STATS_CACHE_SIZE = 50_000
_TSQUERY = "to_tsquery('simple', quote_literal(%s))"

_lock = threading.Lock()
_terms: OrderedDict[str, list[str]] = OrderedDict()
_stats: dict[tuple[str, bool, str | None], tuple[float, int]] = {}


def stats_ttl() -> float:
    return float(getattr(settings, "DATASET_FULLTEXT_STATS_TTL", 60))


def candidate_budget() -> int:
    return int(getattr(settings, "DATASET_FULLTEXT_CANDIDATES", 1000))


def clear_caches() -> None:
    with _lock:
        _terms.clear()
        _stats.clear()


def query_terms(query: str) -> list[str]:
    """The query's lexemes as the ``simple`` configuration normalises them (cached)."""
    with _lock:
        cached = _terms.get(query)
        if cached is not None:
            _terms.move_to_end(query)
            return list(cached)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('simple', %s)))", [query]
        )
        terms = sorted(row[0] for row in cursor.fetchall())[:MAX_QUERY_TERMS]
    with _lock:
        _terms[query] = terms
        while len(_terms) > _TERMS_CACHE_SIZE:
            _terms.popitem(last=False)
    return list(terms)


def _source(hierarchical: bool) -> tuple[str, str]:
    if hierarchical:
        return "c", f"{CHILDREN} c JOIN {SEGMENTS} s ON s.id = c.segment_id AND s.enabled"
    return "s", f"{SEGMENTS} s"


def _where(
    alias: str, dataset_ids: Sequence[str], document_ids: Sequence[str] | None
) -> tuple[str, list]:
    scopes, params = [], []
    for dataset_id in dataset_ids:
        sql, extra = scope(alias, dataset_id, document_ids)
        scopes.append(f"({sql} AND s.enabled)")
        params += extra
    return "(" + " OR ".join(scopes) + ")", params


def term_stats(
    dataset_ids: Sequence[str], terms: Sequence[str], *, hierarchical: bool,
    document_ids: Sequence[str] | None,
) -> tuple[int, list[int]]:  # fmt: skip
    """(rows searched, rows containing each term). Per dataset and cached for the TTL when
    no document filter applies; the missing counts in one statement (a GIN bitmap count per
    term, so rare terms cost little)."""
    alias, table = _source(hierarchical)
    ttl = stats_ttl()
    cache = ttl > 0 and document_ids is None
    now = time.monotonic()
    groups = [list(dataset_ids)] if not cache else [[d] for d in dataset_ids]
    wanted = [(i, key) for i in range(len(groups)) for key in [None, *terms]]
    found: dict[tuple[int, str | None], int] = {}
    if cache:
        with _lock:
            for i, key in wanted:
                entry = _stats.get((groups[i][0], hierarchical, key))
                if entry is not None and entry[0] > now:
                    found[(i, key)] = entry[1]
    missing = [(i, key) for i, key in wanted if (i, key) not in found]
    if missing:
        parts, params = [], []
        for i, key in missing:
            where, extra = _where(alias, groups[i], document_ids)
            match = f" AND {alias}.search_vector @@ {_TSQUERY}" if key is not None else ""
            parts.append(f"(SELECT count(*) FROM {table} WHERE {where}{match})")
            params += extra + ([key] if key is not None else [])
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            counts = cursor.fetchone() or ()
        for (i, key), count in zip(missing, counts, strict=True):
            found[(i, key)] = int(count)
        if cache:
            with _lock:
                if len(_stats) > _STATS_CACHE_SIZE:
                    _stats.clear()
                for i, key in missing:
                    _stats[(groups[i][0], hierarchical, key)] = (now + ttl, found[(i, key)])
    total = sum(found[(i, None)] for i in range(len(groups)))
    return total, [sum(found[(i, t)] for i in range(len(groups))) for t in terms]


def idf(total: int, frequency: int) -> float:
    return math.log((total - frequency + 0.5) / (frequency + 0.5) + 1)


def fulltext_search(
    *, dataset_ids: Sequence[object], query: str, top_k: int, hierarchical: bool = False,
    document_ids: Sequence[str] | None = None, exhaustive: bool = False,
) -> list[Hit]:  # fmt: skip
    """Segments matching any query term, best first (score 0..1; see the module's doc).
    ``exhaustive`` scores every matching row (no pruning; the benchmark's reference)."""
    terms = query_terms(query)
    if not terms or not dataset_ids or (document_ids is not None and not document_ids):
        return []
    datasets = [_uuid(d) for d in dataset_ids]
    total, frequencies = term_stats(
        datasets, terms, hierarchical=hierarchical, document_ids=document_ids
    )
    weights = [idf(total, df) for df in frequencies]
    full = sum(weights) or 1.0
    present = sorted((i for i, df in enumerate(frequencies) if df > 0), key=frequencies.__getitem__)
    if not present:
        return []
    limit = top_k * 4 if hierarchical else top_k
    essential: list[int] = []
    covered = 0
    for i in present if not exhaustive else []:
        if essential and covered + frequencies[i] > max(candidate_budget(), limit):
            break
        essential.append(i)
        covered += frequencies[i]
    rest = [i for i in present if i not in essential]
    if essential and rest:
        rows = _ranked(datasets, terms, weights, full, present, essential, hierarchical,
                       document_ids, limit)  # fmt: skip
        bound = sum(weights[i] for i in rest) / full
        if len(rows) == limit and float(rows[-1][2]) > bound + 1e-9:
            return group_hits(rows, top_k)
    rows = _ranked(datasets, terms, weights, full, present, present, hierarchical,
                   document_ids, limit)  # fmt: skip
    return group_hits(rows, top_k)


def _ranked(
    datasets: list[str], terms: list[str], weights: list[float], full: float,
    scored: list[int], matched: list[int], hierarchical: bool,
    document_ids: Sequence[str] | None, limit: int,
) -> list[tuple]:  # fmt: skip
    """The best ``limit`` rows among those matching any of the ``matched`` terms, scored
    over the ``scored`` terms (the ones that occur), ties broken by ts_rank_cd over the
    whole query, then by id (deterministic, so pruning cannot reorder ties)."""
    alias, table = _source(hierarchical)
    where, where_params = _where(alias, datasets, document_ids)
    score = " + ".join(
        f"CASE WHEN {alias}.search_vector @@ {_TSQUERY} THEN {weights[i]!r} ELSE 0 END"
        for i in scored
    )
    match = "(" + " || ".join(_TSQUERY for _ in matched) + ")"
    whole = "(" + " || ".join(_TSQUERY for _ in terms) + ")"
    parent = "c.segment_id, c.id" if hierarchical else "s.id, NULL"
    sql = (
        f"SELECT {parent}, ({score}) / {full!r} AS score FROM {table} "
        f"WHERE {where} AND {alias}.search_vector @@ {match} "
        f"ORDER BY 3 DESC, ts_rank_cd({alias}.search_vector, {whole}) DESC, 1, 2 LIMIT %s"
    )
    params = [terms[i] for i in scored] + where_params + [terms[i] for i in matched]
    params += [*terms, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
