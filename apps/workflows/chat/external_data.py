"""External data tools of the simple modes (Dify's ``model_config.external_data_tools``):
before the prompt is built, each enabled tool of type ``api`` asks its API-based extension
(point ``app.external_data_tool.query``, params ``app_id``, ``tool_variable``, ``inputs``,
``query``) and its ``result`` becomes the input variable ``variable``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.core.errors import InvalidParam
from apps.tools.api_extensions import POINT_EXTERNAL_DATA, api_extension_client
from apps.workflows.models import App


def external_data_tools(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = config.get("external_data_tools") or []
    if not isinstance(raw, list):
        raise InvalidParam("model_config.external_data_tools must be a list")
    return [t for t in raw if isinstance(t, Mapping) and t.get("enabled")]


def external_data_fill(
    app: App, config: Mapping[str, Any], inputs: Mapping[str, Any], query: str
) -> dict[str, Any]:
    """``inputs`` with the value of every enabled external data tool."""
    values = dict(inputs)
    for tool in external_data_tools(config):
        variable = str(tool.get("variable") or "")
        kind = tool.get("type") or "api"
        if not variable:
            raise InvalidParam("external_data_tools: each tool needs a variable")
        if kind != "api":
            raise InvalidParam(f"external_data_tools: type {kind!r} is not supported (api)")
        found = tool.get("config")
        settings: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        client = api_extension_client(
            workspace=app.workspace, extension_id=settings.get("api_based_extension_id")
        )
        answer = client.call(
            POINT_EXTERNAL_DATA,
            {"app_id": str(app.pk), "tool_variable": variable, "inputs": dict(inputs),
             "query": query},
        )  # fmt: skip
        result = answer.get("result")
        values[variable] = "" if result is None else str(result)
    return values
