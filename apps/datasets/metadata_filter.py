"""Dify's ``metadata_filtering_conditions`` over documents: ``{logical_operator: and|or,
conditions: [{name, comparison_operator, value}]}`` on ``doc_metadata`` and the built-in
fields (document_name, uploader, upload_date, last_update_date, source)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from apps.core.errors import InvalidParam
from apps.datasets.models import Document

OPERATORS = frozenset(
    {
        "contains", "not contains", "start with", "end with", "is", "is not", "empty",
        "not empty", "in", "not in", "=", "≠", "!=", ">", "<", "≥", ">=", "≤", "<=",
        "before", "after",
    }
)  # fmt: skip


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.timestamp()
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "empty":
        return actual in (None, "", [])
    if operator == "not empty":
        return actual not in (None, "", [])
    if actual is None:
        return operator in ("is not", "≠", "!=", "not contains", "not in")
    if operator in ("in", "not in"):
        options = expected if isinstance(expected, list) else str(expected).split(",")
        found = str(actual) in [str(o).strip() for o in options]
        return found if operator == "in" else not found
    text, wanted = str(actual), "" if expected is None else str(expected)
    if operator == "contains":
        return wanted in text
    if operator == "not contains":
        return wanted not in text
    if operator == "start with":
        return text.startswith(wanted)
    if operator == "end with":
        return text.endswith(wanted)
    left, right = _number(actual), _number(expected)
    if operator in ("is", "=", "is not", "≠", "!="):
        same = left == right if left is not None and right is not None else text == wanted
        return same if operator in ("is", "=") else not same
    if left is None or right is None:
        return False
    return {
        ">": left > right, "after": left > right, "<": left < right, "before": left < right,
        "≥": left >= right, ">=": left >= right, "≤": left <= right, "<=": left <= right,
    }[operator]  # fmt: skip


def _values(document: Document) -> dict[str, Any]:
    creator = document.created_by
    return {
        **(document.doc_metadata or {}),
        "document_name": document.name,
        "uploader": (creator.get_username() if creator else "") or "",
        "upload_date": document.created_at,
        "last_update_date": document.updated_at,
        "source": document.data_source_type,
    }


def check_conditions(conditions: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    if not isinstance(conditions, Mapping):
        raise InvalidParam("metadata_filtering_conditions must be an object")
    logical = str(conditions.get("logical_operator") or "and").lower()
    if logical not in ("and", "or"):
        raise InvalidParam("logical_operator must be and or or")
    items = conditions.get("conditions") or []
    if not isinstance(items, list):
        raise InvalidParam("metadata_filtering_conditions.conditions must be a list")
    for item in items:
        if not isinstance(item, Mapping) or not item.get("name"):
            raise InvalidParam("each metadata condition needs a name")
        if item.get("comparison_operator") not in OPERATORS:
            raise InvalidParam(f"unknown comparison_operator {item.get('comparison_operator')!r}")
    return logical, items


def matching_document_ids(
    documents: Iterable[Document], conditions: Mapping[str, Any]
) -> list[str] | None:
    """Ids of the documents that pass; None when there is no condition (no filtering)."""
    logical, items = check_conditions(conditions)
    if not items:
        return None
    combine = all if logical == "and" else any
    kept = []
    for document in documents:
        values = _values(document)
        results = (
            _compare(values.get(c["name"]), c["comparison_operator"], c.get("value")) for c in items
        )
        if combine(results):
            kept.append(str(document.pk))
    return kept
