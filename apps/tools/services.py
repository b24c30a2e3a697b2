"""Writes of a workspace's tool providers. Each service checks its input with a real call
where there is one (built-in credentials, MCP tool listing), outside any transaction, then
saves in its own transaction. Secrets are encrypted; a still-masked secret keeps its value."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import AppError, InvalidParam, NotFound
from apps.tenants.crypto import decrypt_json, encrypt_json, mask_secret
from apps.tenants.models import Workspace
from apps.tools import openapi, selectors
from apps.tools.base import BuiltinProvider, ToolContext, ToolDeclaration, ToolError
from apps.tools.mcp_services import (  # noqa: F401  (re-exported service names)
    mcp_headers_clean,
    mcp_provider_connect,
    mcp_provider_create,
    mcp_provider_delete,
    mcp_provider_refresh,
    mcp_provider_update,
)
from apps.tools.models import (
    ApiToolProvider,
    BuiltinToolCredential,
    WorkflowToolProvider,
)
from apps.tools.workflow_tool import NAME_PATTERN, check_configuration, start_variables
from apps.workflows.adapters.http import GuardedHttpPort
from apps.workflows.engine.errors import WorkflowError
from apps.workflows.models import App

logger = logging.getLogger(__name__)
AUTH_TYPES = ("none", "api_key_header", "api_key_query")
HEADER_PREFIXES = ("basic", "bearer", "custom")


# -- built-in credentials -------------------------------------------------------------------
def _clean_builtin_credentials(
    provider: BuiltinProvider, submitted: Mapping[str, Any], previous: Mapping[str, Any]
) -> dict[str, Any]:
    declared = {c.name: c for c in provider.declaration.credentials}
    name = provider.declaration.name
    unknown = sorted(set(submitted) - set(declared))
    if unknown:
        raise InvalidParam(
            f"unknown credential field(s) for {name}: {', '.join(unknown)}; "
            f"expected: {', '.join(declared) or 'none'}"
        )
    cleaned: dict[str, Any] = {}
    for field_name, spec in declared.items():
        value = submitted.get(field_name)
        value = value.strip() if isinstance(value, str) else value
        old = previous.get(field_name)
        if spec.secret and old and (value in (None, "") or value == mask_secret(str(old))):
            value = old
        if value in (None, "") and spec.default not in (None, ""):
            value = spec.default
        if spec.options and value not in (None, "") and str(value) not in spec.options:
            raise InvalidParam(
                f"credential {field_name!r}: must be one of {', '.join(spec.options)}"
            )
        if value not in (None, ""):
            cleaned[field_name] = value
        elif spec.required:
            raise InvalidParam(f"credential field {field_name!r} is required for {name}")
    return cleaned


def _builtin_check(
    provider: BuiltinProvider, credentials: Mapping[str, Any], workspace: Workspace
) -> None:
    ctx = ToolContext(
        credentials=credentials, http=GuardedHttpPort(), workspace_id=str(workspace.pk)
    )
    try:
        provider.validate_credentials(credentials, ctx)
    except (ToolError, WorkflowError) as exc:  # WorkflowError: the HTTP port refused/failed
        raise InvalidParam(
            f"{provider.declaration.name}: credentials are not valid: {exc}"
        ) from exc


def builtin_credentials_prepare(
    *,
    workspace: Workspace,
    provider_name: str,
    credentials: Mapping[str, Any],
    validate: bool = True,
) -> dict[str, Any]:
    """Check submitted credentials (with a real call if ``validate``); nothing is saved."""
    provider = selectors.builtin_provider_get(provider_name)
    name = provider.declaration.name
    existing = selectors.builtin_credential_get(workspace=workspace, provider_name=name)
    previous = decrypt_json(existing.encrypted_credentials) if existing else {}
    cleaned = _clean_builtin_credentials(provider, credentials, previous)
    if validate:
        _builtin_check(provider, cleaned, workspace)
    return cleaned


def builtin_credentials_set(
    *,
    workspace: Workspace,
    provider_name: str,
    credentials: Mapping[str, Any],
    validate: bool = True,
) -> BuiltinToolCredential:
    cleaned = builtin_credentials_prepare(
        workspace=workspace, provider_name=provider_name, credentials=credentials,
        validate=validate,
    )  # fmt: skip
    return builtin_credentials_store(
        workspace=workspace, provider_name=provider_name, cleaned=cleaned, validated=validate
    )


def builtin_credentials_store(
    *,
    workspace: Workspace,
    provider_name: str,
    cleaned: Mapping[str, Any],
    validated: bool,
) -> BuiltinToolCredential:
    """Save credentials that ``builtin_credentials_prepare`` accepted, encrypted."""
    name = selectors.builtin_provider_get(provider_name).declaration.name
    validate = validated
    with transaction.atomic():
        credential, _ = BuiltinToolCredential.objects.update_or_create(
            workspace=workspace,
            provider=name,
            defaults={
                "encrypted_credentials": encrypt_json(dict(cleaned)),
                "is_valid": True if validate else None,
                "last_validated_at": timezone.now() if validate else None,
                "last_error": "",
            },
        )
    logger.info("tool credentials for %s saved in workspace %s", name, workspace.pk)
    return credential


def builtin_credentials_delete(*, workspace: Workspace, provider_name: str) -> None:
    provider = selectors.builtin_provider_get(provider_name)
    deleted, _ = (
        BuiltinToolCredential.objects.for_workspace(workspace)
        .filter(provider=provider.declaration.name)
        .delete()
    )
    if not deleted:
        raise NotFound(f"tool provider {provider_name!r} has no credentials in this workspace")


def builtin_credentials_validate(*, credential: BuiltinToolCredential) -> tuple[bool, str]:
    """A real call with the stored credentials; the outcome is recorded."""
    error = ""
    try:
        provider = selectors.builtin_provider_get(credential.provider)
        _builtin_check(
            provider, decrypt_json(credential.encrypted_credentials), credential.workspace
        )
    except AppError as exc:
        error = exc.message
    credential.is_valid = not error
    credential.last_error = error
    credential.last_validated_at = timezone.now()
    credential.save(update_fields=["is_valid", "last_error", "last_validated_at", "updated_at"])
    return credential.is_valid, error


# -- API tools (OpenAPI / Swagger) ----------------------------------------------------------
def api_schema_parse(*, schema: str, schema_type: str | None = None) -> openapi.ApiSpec:
    """Parse a document for a preview or before saving (InvalidParam naming the problem)."""
    if schema_type and schema_type not in ApiToolProvider.SchemaType.values:
        raise InvalidParam(f"schema_type must be openapi or swagger, not {schema_type!r}")
    try:
        return openapi.parse_spec(schema, schema_type=schema_type or None)
    except ToolError as exc:
        raise InvalidParam(f"invalid schema: {exc}") from exc


def api_credentials_clean(
    submitted: Mapping[str, Any], previous_key: str
) -> tuple[dict[str, str], str]:
    """Dify's credentials object → (columns, api key value)."""
    auth_type = str(submitted.get("auth_type") or "none")
    auth_type = "api_key_header" if auth_type == "api_key" else auth_type
    if auth_type not in AUTH_TYPES:
        raise InvalidParam(
            "credentials.auth_type must be one of none, api_key_header, api_key_query"
        )
    prefix = str(submitted.get("api_key_header_prefix") or "custom")
    if prefix not in HEADER_PREFIXES:
        raise InvalidParam("credentials.api_key_header_prefix must be basic, bearer or custom")
    key = str(submitted.get("api_key_value") or "").strip()
    if previous_key and (not key or key == mask_secret(previous_key)):
        key = previous_key
    if auth_type != "none" and not key:
        raise InvalidParam("credentials.api_key_value is required for API key authentication")
    columns = {
        "auth_type": auth_type,
        "api_key_header": str(submitted.get("api_key_header") or "Authorization").strip(),
        "api_key_header_prefix": prefix,
        "api_key_query_param": str(submitted.get("api_key_query_param") or "key").strip(),
    }
    return columns, key if auth_type != "none" else ""


def _api_save(provider: ApiToolProvider, columns: Mapping[str, Any], key: str) -> ApiToolProvider:
    for field_name, value in columns.items():
        setattr(provider, field_name, value)
    provider.encrypted_credentials = encrypt_json({"api_key_value": key}) if key else ""
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError as exc:
        raise InvalidParam(f"a custom tool named {provider.name!r} already exists") from exc
    return provider


def api_tool_provider_create(
    *,
    workspace: Workspace,
    name: str,
    schema: str,
    schema_type: str = "",
    credentials: Mapping[str, Any] | None = None,
    description: str = "",
    icon: Any = None,
    privacy_policy: str = "",
    custom_disclaimer: str = "",
    labels: Sequence[str] = (),
    created_by: User | None = None,
) -> ApiToolProvider:
    name = name.strip()
    if not name:
        raise InvalidParam("provider: a name is required")
    spec = api_schema_parse(schema=schema, schema_type=schema_type or None)
    columns, key = api_credentials_clean(credentials or {}, "")
    provider = ApiToolProvider(
        workspace=workspace, name=name, schema=schema, schema_type=spec.schema_type,
        description=description or spec.description, icon=icon or {},
        privacy_policy=privacy_policy, custom_disclaimer=custom_disclaimer,
        labels=list(labels), created_by=created_by,
    )  # fmt: skip
    return _api_save(provider, columns, key)


def api_tool_provider_update(
    *,
    provider: ApiToolProvider,
    name: str | None = None,
    schema: str | None = None,
    schema_type: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    description: str | None = None,
    icon: Any = None,
    privacy_policy: str | None = None,
    custom_disclaimer: str | None = None,
    labels: Sequence[str] | None = None,
) -> ApiToolProvider:
    if schema is not None or schema_type is not None:
        spec = api_schema_parse(
            schema=schema if schema is not None else provider.schema,
            schema_type=schema_type or None,
        )
        provider.schema = schema if schema is not None else provider.schema
        provider.schema_type = spec.schema_type
    previous = selectors.api_tool_credentials(provider)
    submitted = {**previous, **(credentials or {})}  # fields left out keep their values
    columns, key = api_credentials_clean(submitted, previous["api_key_value"])
    if name is not None:
        if not name.strip():
            raise InvalidParam("provider: a name is required")
        provider.name = name.strip()
    changes = {
        "description": description, "icon": icon, "privacy_policy": privacy_policy,
        "custom_disclaimer": custom_disclaimer,
        "labels": list(labels) if labels is not None else None,
    }  # fmt: skip
    for field_name, value in changes.items():
        if value is not None:
            setattr(provider, field_name, value)
    return _api_save(provider, columns, key)


def api_tool_provider_delete(*, provider: ApiToolProvider) -> None:
    provider.delete()


def api_tool_provider_test(*, provider: ApiToolProvider) -> str:
    """Parse the document and reach its server with a real request (any HTTP answer counts:
    the server is there). Returns a one-line report; raises InvalidParam on failure."""
    spec = api_schema_parse(schema=provider.schema, schema_type=provider.schema_type)
    names = ", ".join(o.name for o in spec.operations)
    try:
        response = GuardedHttpPort().request("GET", spec.server_url, timeout=10)
    except (WorkflowError, OSError) as exc:
        raise InvalidParam(
            f"{len(spec.operations)} tool(s) ({names}); server unreachable: {exc}"
        ) from exc
    return (
        f"{len(spec.operations)} tool(s): {names}; server {spec.server_url} answered "
        f"HTTP {response.status_code}"
    )


# -- workflow tools -------------------------------------------------------------------------
def workflow_tool_prepare(
    *,
    workspace: Workspace,
    app_id: Any,
    name: str,
    parameters: Sequence[Mapping[str, Any]],
) -> tuple[App, str, list[dict[str, str]]]:
    """Check a workflow tool's app (a published workflow app of the workspace), name and
    parameter configuration; nothing is saved."""
    app = _workflow_app(workspace, app_id)
    return app, _check_name(name), _workflow_parameters(app, parameters)


def _workflow_app(workspace: Workspace, app_id: Any) -> App:
    from apps.workflows.selectors import app_get

    app = app_get(workspace=workspace, app_id=app_id)
    if app.mode != App.Mode.WORKFLOW:
        raise InvalidParam(f"workflow_app_id: {app.name} is a {app.mode} app, not a workflow")
    if app.published_workflow is None:
        raise InvalidParam(f"workflow_app_id: {app.name} is not published; publish it first")
    return app


def _check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise InvalidParam("name: only letters, digits and _ (at most 64), e.g. get_weather")
    return name


def _workflow_parameters(app: App, parameters: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    assert app.published_workflow is not None
    try:
        variables = start_variables(app.published_workflow.graph)
        return check_configuration(parameters, variables)
    except ToolError as exc:
        raise InvalidParam(str(exc)) from exc


def _workflow_save(provider: WorkflowToolProvider) -> WorkflowToolProvider:
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError as exc:
        raise InvalidParam(
            f"a workflow tool named {provider.name!r}, or one for this app, already exists"
        ) from exc
    return provider


def workflow_tool_provider_create(
    *,
    workspace: Workspace,
    app_id: Any,
    name: str,
    label: str = "",
    description: str = "",
    icon: Any = None,
    parameters: Sequence[Mapping[str, Any]] = (),
    privacy_policy: str = "",
    labels: Sequence[str] = (),
    created_by: User | None = None,
) -> WorkflowToolProvider:
    app, name, config = workflow_tool_prepare(
        workspace=workspace, app_id=app_id, name=name, parameters=parameters
    )
    provider = WorkflowToolProvider(
        workspace=workspace, app=app, name=name, label=label or name,
        description=description or app.description, icon=icon or {}, parameters=config,
        privacy_policy=privacy_policy, labels=list(labels), created_by=created_by,
    )  # fmt: skip
    return _workflow_save(provider)


def workflow_tool_provider_update(
    *,
    provider: WorkflowToolProvider,
    name: str | None = None,
    label: str | None = None,
    description: str | None = None,
    icon: Any = None,
    parameters: Sequence[Mapping[str, Any]] | None = None,
    privacy_policy: str | None = None,
    labels: Sequence[str] | None = None,
) -> WorkflowToolProvider:
    if name is not None:
        provider.name = _check_name(name)
    if parameters is not None:
        app = _workflow_app(provider.workspace, provider.app_id)
        provider.parameters = _workflow_parameters(app, parameters)
    changes = {
        "label": label, "description": description, "icon": icon,
        "privacy_policy": privacy_policy, "labels": list(labels) if labels is not None else None,
    }  # fmt: skip
    for field_name, value in changes.items():
        if value is not None:
            setattr(provider, field_name, value)
    return _workflow_save(provider)


def workflow_tool_provider_delete(*, provider: WorkflowToolProvider) -> None:
    provider.delete()


def workflow_tool_provider_test(*, provider: WorkflowToolProvider) -> ToolDeclaration:
    """The declaration from the app's published workflow (InvalidParam if it cannot be built)."""
    try:
        return selectors.workflow_tool_declaration_get(provider)
    except ToolError as exc:
        raise InvalidParam(str(exc)) from exc
