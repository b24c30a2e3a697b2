"""Import and export of Dify DSL app files, keeping fields we do not use for export."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from apps.core.errors import InvalidParam
from apps.providers.models import ProviderCredential
from apps.providers.runtime import providers
from apps.tenants.crypto import decrypt_json, encrypt_json
from apps.tenants.models import Workspace
from apps.workflows.adapters.models import provider_name
from apps.workflows.engine.dsl import GRAPH_MODES, DSLError, dump_dsl, load_dsl
from apps.workflows.models import App, Workflow

APP_FIELDS = ("name", "mode", "description", "icon", "icon_background", "use_icon_as_answer_icon")
WORKFLOW_FIELDS = ("graph", "features", "environment_variables", "conversation_variables")
DOCUMENT_FIELDS = ("kind", "version", "app", "workflow", "model_config")
ENCRYPTED_PREFIX = "enc:"
MODEL_NODE_TYPES = ("llm", "question-classifier", "parameter-extractor")


@dataclass
class ImportResult:
    app: App
    warnings: list[str] = field(default_factory=list)


HIDDEN = "[__HIDDEN__]"


def seal_secrets(
    variables: list[dict[str, Any]], previous: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Encrypt secret values; a value still shown as hidden keeps the stored one."""
    stored = {v.get("name"): v.get("value") for v in previous or []}
    sealed = copy.deepcopy(variables)
    for variable in sealed:
        value = variable.get("value")
        if variable.get("value_type") == "secret" and value == HIDDEN:
            variable["value"] = stored.get(variable.get("name"), "")
            continue
        if variable.get("value_type") == "secret" and value:
            variable["value"] = ENCRYPTED_PREFIX + encrypt_json({"v": value})
    return sealed


def environment_for_run(workflow: Workflow) -> list[dict[str, Any]]:
    """Environment variables with secret values decrypted (for the engine only)."""
    opened = copy.deepcopy(workflow.environment_variables or [])
    for variable in opened:
        value = variable.get("value")
        if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX):
            variable["value"] = decrypt_json(value[len(ENCRYPTED_PREFIX) :]).get("v", "")
    return opened


def environment_masked(workflow: Workflow) -> list[dict[str, Any]]:
    """Environment variables for display: secret values hidden."""
    shown = copy.deepcopy(workflow.environment_variables or [])
    for variable in shown:
        if variable.get("value_type") == "secret" and variable.get("value"):
            variable["value"] = HIDDEN
    return shown


@transaction.atomic
def app_import_dsl(
    *,
    workspace: Workspace,
    text: str | bytes,
    created_by: User | None = None,
    name: str | None = None,
    publish: bool = False,
) -> ImportResult:
    try:
        dsl = load_dsl(text)
    except DSLError as exc:
        raise InvalidParam(f"invalid DSL: {exc}") from exc
    app_block = dsl.app
    document_extras = {k: v for k, v in dsl.document.items() if k not in DOCUMENT_FIELDS}
    app = App.objects.create(
        workspace=workspace,
        name=(name or dsl.name)[:255],
        mode=dsl.mode,
        description=str(app_block.get("description") or ""),
        icon=str(app_block.get("icon") or "🤖")[:255],
        icon_background=str(app_block.get("icon_background") or "#FFEAD5")[:32],
        use_icon_as_answer_icon=bool(app_block.get("use_icon_as_answer_icon", False)),
        model_config=dsl.model_config,
        created_by=created_by,
        dsl_extras={
            "document": document_extras,
            "app": {k: v for k, v in app_block.items() if k not in APP_FIELDS},
            "workflow": {k: v for k, v in dsl.workflow.items() if k not in WORKFLOW_FIELDS},
        },
    )
    if dsl.mode in GRAPH_MODES:
        Workflow.objects.create(
            workspace=workspace,
            app=app,
            type="chat" if dsl.mode == "advanced-chat" else "workflow",
            version=Workflow.DRAFT,
            graph=dsl.graph,
            features=dsl.features,
            environment_variables=seal_secrets(dsl.environment_variables),
            conversation_variables=dsl.conversation_variables,
            created_by=created_by,
        )
        if publish:
            from apps.workflows.run_services import workflow_publish

            workflow_publish(app=app, created_by=created_by)
    warnings = list(dsl.warnings) + _missing_dependencies(workspace, dsl.dependencies, dsl.graph)
    return ImportResult(app=app, warnings=warnings)


def _missing_dependencies(
    workspace: Workspace, dependencies: list[dict[str, Any]], graph: dict[str, Any]
) -> list[str]:
    """What the app needs that this platform or workspace lacks (reported, not fatal)."""
    known = {p.name for p in providers.all()}
    configured = set(
        ProviderCredential.objects.for_workspace(workspace).values_list("provider", flat=True)
    ) | {p.name for p in providers.all() if not any(f.required for f in p.credential_schema)}
    found: list[str] = []
    for dependency in dependencies:
        value = dependency.get("value") or {}
        identifier = str(
            value.get("marketplace_plugin_unique_identifier")
            or value.get("plugin_unique_identifier")
            or value.get("github_plugin_unique_identifier")
            or value
        )
        plugin = identifier.split("@")[0].split(":")[0]
        if plugin.rsplit("/", 1)[-1] not in known:
            found.append(f"plugin {plugin}: not available here (plugins are not supported)")
    for node in graph.get("nodes") or []:
        data = node.get("data") or {}
        kind, node_id = data.get("type"), node.get("id")
        model = data.get("model") or {}
        if kind in MODEL_NODE_TYPES and model.get("provider"):
            provider = provider_name(str(model["provider"]))
            if provider not in configured:
                found.append(
                    f"node {node_id} ({kind}): model provider {provider!r} is not set up in "
                    "this workspace"
                )
        elif kind == "tool":
            found.append(
                f"node {node_id} (tool {data.get('provider_id')}/{data.get('tool_name')}): "
                "tool not installed"
            )
        elif kind == "knowledge-retrieval":
            found.append(f"node {node_id} (knowledge-retrieval): knowledge bases not available")
    return found


def app_export_dsl(*, app: App, include_secrets: bool = False, version: str | None = None) -> str:
    extras = app.dsl_extras or {}
    document: dict[str, Any] = {"kind": "app", "version": ""}
    app_block = {
        **extras.get("app", {}),
        "name": app.name,
        "mode": app.mode,
        "description": app.description,
        "icon": app.icon,
        "icon_background": app.icon_background,
        "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
    }
    document["app"] = app_block
    document.update(extras.get("document", {}))
    if app.mode in GRAPH_MODES:
        workflow = _workflow_version(app, version)
        document["workflow"] = {
            **extras.get("workflow", {}),
            "graph": workflow.graph,
            "features": workflow.features,
            "environment_variables": environment_for_run(workflow),
            "conversation_variables": workflow.conversation_variables,
        }
    else:
        document["model_config"] = app.model_config
    return dump_dsl(document, include_secrets=include_secrets)


def _workflow_version(app: App, version: str | None) -> Workflow:
    workflows = Workflow.objects.for_workspace(app.workspace_id).filter(app=app)
    if version in (None, Workflow.DRAFT):
        found = workflows.filter(version=Workflow.DRAFT).first()
    elif version == "published":
        found = app.published_workflow
    else:
        found = workflows.filter(version=version).first()
    if found is None:
        raise InvalidParam(f"the app has no {version or 'draft'} workflow")
    return found
