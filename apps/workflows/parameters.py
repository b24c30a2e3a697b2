"""What ``GET /v1/parameters``, ``/v1/meta`` and ``/v1/site`` say about an app (Dify's forms).

Simple modes read ``App.model_config``; graph modes read the published (else draft)
workflow's ``features`` and turn the start node's variables into ``user_input_form`` items
(``{"text-input": {...}}``, ``{"paragraph": {...}}``, ``{"select": {...}}``, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.workflows.annotation_index import annotation_reply_config
from apps.workflows.file_services import upload_limits
from apps.workflows.models import App
from apps.workflows.run_services import GRAPH_MODES, workflow_for_run

INPUT_TYPES = (
    "text-input", "paragraph", "select", "number", "checkbox", "file", "file-list", "json_object",
)  # fmt: skip
TEXT_TYPES = ("text-input", "paragraph", "select")

_FEATURE_DEFAULTS: dict[str, Any] = {
    "suggested_questions_after_answer": {"enabled": False},
    "speech_to_text": {"enabled": False},
    "text_to_speech": {"enabled": False, "voice": "", "language": ""},
    "retriever_resource": {"enabled": False},
    "annotation_reply": {"enabled": False},
    "more_like_this": {"enabled": False},
    "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
    "file_upload": {
        "image": {
            "enabled": False,
            "number_limits": 3,
            "detail": "high",
            "transfer_methods": ["remote_url", "local_file"],
        }
    },
}


def _start_variables(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, Mapping) else None
        if isinstance(data, Mapping) and data.get("type") == "start":
            return [dict(v) for v in data.get("variables") or [] if isinstance(v, Mapping)]
    return []


def form_item(variable: Mapping[str, Any]) -> dict[str, Any]:
    """A start-node variable as a Dify ``user_input_form`` item (``{type: control}``)."""
    kind = str(variable.get("type") or "text-input")
    if kind not in INPUT_TYPES:
        kind = "text-input"
    control = dict(variable)
    name = str(control.get("variable") or "")
    control["type"] = kind
    control["variable"] = name
    control["label"] = control.get("label") or name
    control["required"] = bool(control.get("required", False))
    if kind in TEXT_TYPES:
        default = control.get("default")
        control["default"] = "" if default is None else default
    if kind in ("text-input", "paragraph") and "max_length" not in control:
        control["max_length"] = 48 if kind == "text-input" else None
    if kind == "select":
        control["options"] = [str(o) for o in control.get("options") or []]
    return {kind: control}


def user_input_form_of_graph(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [form_item(v) for v in _start_variables(graph)]


def system_parameters() -> dict[str, int]:
    limits = upload_limits()
    return {
        "file_size_limit": limits.file_mb,
        "image_file_size_limit": limits.image_mb,
        "audio_file_size_limit": limits.audio_mb,
        "video_file_size_limit": limits.video_mb,
        "workflow_file_upload_limit": limits.workflow_files,
    }


def _parameters(features: Mapping[str, Any], form: list[Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "opening_statement": features.get("opening_statement") or "",
        "suggested_questions": list(features.get("suggested_questions") or []),
    }
    for key, default in _FEATURE_DEFAULTS.items():
        value = features.get(key)
        answer[key] = value if isinstance(value, Mapping) else default
    answer["user_input_form"] = form
    answer["system_parameters"] = system_parameters()
    return answer


def app_features(*, app: App) -> Mapping[str, Any]:
    """The app's feature settings (``speech_to_text``, ``text_to_speech``, …): the published
    (else draft) workflow's ``features`` in graph modes, ``model_config`` otherwise."""
    graph = app.mode in GRAPH_MODES
    features = workflow_for_run(app=app).features if graph else app.model_config
    return features if isinstance(features, Mapping) else {}


def app_parameters(*, app: App) -> dict[str, Any]:
    """Dify's AppParametersResponse for any mode (raises app_unavailable without a workflow).
    ``annotation_reply`` is the app's annotation reply setting, as in Dify."""
    if app.mode in GRAPH_MODES:
        workflow = workflow_for_run(app=app)
        features = workflow.features if isinstance(workflow.features, Mapping) else {}
        answer = _parameters(features, user_input_form_of_graph(workflow.graph or {}))
    else:
        config = app.model_config if isinstance(app.model_config, Mapping) else {}
        form = config.get("user_input_form")
        answer = _parameters(config, list(form) if isinstance(form, list) else [])
    answer["annotation_reply"] = annotation_reply_config(app)
    return answer


def app_meta(*, app: App) -> dict[str, Any]:
    """Dify's AppMetaResponse: the icons of the tools the app uses (none are custom here)."""
    return {"tool_icons": {}}


def app_site(*, app: App) -> dict[str, Any]:
    """Dify's WebAppSettingsResponse for the app's end-user page."""
    return {
        "title": app.name,
        "chat_color_theme": None,
        "chat_color_theme_inverted": False,
        "icon_type": "emoji",
        "icon": app.icon,
        "icon_background": app.icon_background,
        "icon_url": None,
        "description": app.description,
        "copyright": None,
        "privacy_policy": None,
        "input_placeholder": None,
        "custom_disclaimer": "",
        "default_language": "en-US",
        "show_workflow_steps": True,
        "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
    }
