"""Chatflow conversation variables through the Service API.

The declarations (id, name, value_type, value, description) are the app's workflow
``conversation_variables``; a conversation's current values are its
``ConversationVariableSet`` (by name), falling back to the declared defaults.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from apps.core.errors import AppError, InvalidParam, NotFound
from apps.workflows.models import App, Conversation, ConversationVariableSet, EndUser
from apps.workflows.run_services import workflow_for_run


def _conversation(*, app: App, end_user: EndUser | None, conversation_id: str) -> Conversation:
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        pk = None
    found = (
        Conversation.objects.for_workspace(app.workspace_id)
        .filter(pk=pk, app=app, end_user=end_user, is_deleted=False)
        .first()
        if pk and end_user is not None
        else None
    )
    if found is None:
        raise NotFound("Conversation Not Exists.")
    return found


def _declarations(app: App) -> list[dict[str, Any]]:
    if app.mode != "advanced-chat":
        return []
    try:
        workflow = workflow_for_run(app=app)
    except AppError:
        return []
    return [dict(v) for v in workflow.conversation_variables or [] if isinstance(v, Mapping)]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _item(
    declaration: Mapping[str, Any], values: Mapping[str, Any], created: int, updated: int
) -> dict[str, Any]:
    name = str(declaration.get("name") or "")
    value = values[name] if name in values else declaration.get("value")
    return {
        "id": str(declaration.get("id") or ""),
        "name": name,
        "value_type": str(declaration.get("value_type") or "string"),
        "value": _as_text(value),
        "description": str(declaration.get("description") or ""),
        "created_at": created,
        "updated_at": updated,
    }


def _stored(app: App, conversation: Conversation) -> ConversationVariableSet | None:
    return (
        ConversationVariableSet.objects.for_workspace(app.workspace_id)
        .filter(app=app, conversation_id=str(conversation.pk))
        .first()
    )


def conversation_variables_list(
    *,
    app: App,
    end_user: EndUser | None,
    conversation_id: str,
    limit: int = 20,
    last_id: str = "",
    variable_name: str = "",
) -> dict[str, Any]:
    """Dify's ConversationVariablesResponse ({limit, has_more, data})."""
    conversation = _conversation(app=app, end_user=end_user, conversation_id=conversation_id)
    declarations = _declarations(app)
    if variable_name:
        declarations = [d for d in declarations if d.get("name") == variable_name]
    if last_id:
        ids = [str(d.get("id")) for d in declarations]
        if last_id not in ids:
            raise NotFound("Conversation Variable Not Exists.")
        declarations = declarations[ids.index(last_id) + 1 :]
    stored = _stored(app, conversation)
    values = stored.values if stored else {}
    created = int(conversation.created_at.timestamp())
    updated = int(stored.updated_at.timestamp()) if stored else created
    page = declarations[:limit]
    return {
        "limit": limit,
        "has_more": len(declarations) > limit,
        "data": [_item(d, values, created, updated) for d in page],
    }


def _type_ok(value_type: str, value: Any) -> bool:
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    def is_file(v: Any) -> bool:
        return isinstance(v, Mapping)

    checks: dict[str, Any] = {
        "string": lambda v: isinstance(v, str),
        "secret": lambda v: isinstance(v, str),
        "number": number,
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, Mapping),
        "file": is_file,
    }
    if value_type.startswith("array[") and value_type.endswith("]"):
        inner = value_type[6:-1]
        check = checks.get(inner)
        return isinstance(value, list) and (check is None or all(check(v) for v in value))
    if value_type == "array":
        return isinstance(value, list)
    check = checks.get(value_type)
    return check is None or bool(check(value))


@transaction.atomic
def conversation_variable_update(
    *, app: App, end_user: EndUser | None, conversation_id: str, variable_id: str, value: Any
) -> dict[str, Any]:
    """Set one variable's value for the conversation; Dify's ConversationVariableItem."""
    conversation = _conversation(app=app, end_user=end_user, conversation_id=conversation_id)
    declarations = _declarations(app)
    declaration = next((d for d in declarations if str(d.get("id")) == variable_id), None)
    if declaration is None:
        raise NotFound("Conversation Variable Not Exists.")
    value_type = str(declaration.get("value_type") or "string")
    if not _type_ok(value_type, value):
        raise AppError(
            f"Type mismatch: variable '{declaration.get('name')}' expects {value_type}",
            code="bad_request",
        )
    stored, _ = ConversationVariableSet.objects.select_for_update().get_or_create(
        workspace_id=app.workspace_id,
        app=app,
        conversation_id=str(conversation.pk),
        defaults={"values": {}},
    )
    values = {str(d.get("name")): d.get("value") for d in declarations}
    values.update(stored.values or {})
    values[str(declaration.get("name"))] = value
    stored.values = values
    stored.save()
    created = int(conversation.created_at.timestamp())
    return _item(declaration, values, created, int(stored.updated_at.timestamp()))


def limit_param(raw: Any, *, default: int = 20, maximum: int = 100) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidParam("limit must be an integer") from exc
    if not 1 <= value <= maximum:
        raise InvalidParam(f"limit must be between 1 and {maximum}")
    return value
