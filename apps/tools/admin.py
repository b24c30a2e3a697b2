"""Tool providers in the admin: secrets masked (never shown back), a real "Test" action.

Forms check through the services (schema parsed, credentials validated, MCP tools listed)
in ``clean()`` so problems show as form errors; ``save_model`` stores through the services.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.core.admin_mixins import CREDENTIAL_STATUS_FIELDS, ProviderCredentialAdminMixin
from apps.core.errors import AppError
from apps.tools import payloads, selectors, services
from apps.tools.base import ToolDeclaration
from apps.tools.builtin import builtin_providers
from apps.tools.models import (
    ApiToolProvider,
    BuiltinToolCredential,
    McpToolProvider,
    WorkflowToolProvider,
)
from apps.workflows.models import App

_RELOAD_ON_CHANGE = "window.location.search = '?provider=' + this.value;"
KEEP = " (leave blank to keep the stored value)"


def _masked_html(values: dict[str, Any]) -> str:
    if not values:
        return "-"
    return format_html_join("", "<div><b>{}</b>: {}</div>", values.items())


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, label: str, run: Any) -> None:
    try:
        text = run()
    except AppError as exc:
        modeladmin.message_user(request, f"{label}: test failed: {exc.message}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{label}: {text}", messages.SUCCESS)


# -- built-in credentials -------------------------------------------------------------------
def _builtin_choices() -> list[tuple[str, str]]:
    return [
        (p.declaration.name, f"{p.declaration.label or p.declaration.name} ({p.declaration.name})")
        for p in builtin_providers
    ]


class BuiltinToolCredentialForm(forms.ModelForm):
    """Fields are built from the chosen provider's credential declaration."""

    provider = forms.ChoiceField(choices=_builtin_choices)
    validate = forms.BooleanField(
        required=False, initial=True, help_text="Check the credentials with a real call first"
    )

    class Meta:
        model = BuiltinToolCredential
        fields = ["workspace", "provider"]

    def __init__(self, *args: Any, provider_name: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = _builtin_choices()
        cast(forms.ChoiceField, self.fields["provider"]).choices = choices
        editing = not self.instance._state.adding
        name = self.instance.provider if editing else provider_name
        name = name or (choices[0][0] if choices else "")
        self.fields["provider"].initial = name
        self.fields["provider"].widget.attrs["onchange"] = _RELOAD_ON_CHANGE
        if editing:
            self.fields["provider"].disabled = True
            self.fields["workspace"].disabled = True
        self.tool_provider = builtin_providers.get(name) if name else None
        current = (
            payloads.builtin_credentials_masked(self.tool_provider, self.instance)
            if editing and self.tool_provider
            else {}
        )
        for spec in self.tool_provider.declaration.credentials if self.tool_provider else ():
            field: forms.Field
            if spec.secret:
                stored = f" Stored: {current[spec.name]}{KEEP}." if spec.name in current else ""
                field = forms.CharField(
                    required=spec.required and spec.name not in current,
                    widget=forms.PasswordInput(render_value=False),
                    help_text=spec.help + stored,
                )
            else:
                field = forms.CharField(
                    required=spec.required,
                    initial=current.get(spec.name, spec.default or ""),
                    help_text=spec.help or spec.placeholder,
                )
            field.label = spec.label or spec.name
            self.fields[f"cred_{spec.name}"] = field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace = cleaned.get("workspace") or getattr(self.instance, "workspace", None)
        if workspace is None or self.errors or self.tool_provider is None:
            return cleaned
        submitted = {
            spec.name: self.cleaned_data.get(f"cred_{spec.name}", "")
            for spec in self.tool_provider.declaration.credentials
        }
        self.validated = bool(cleaned.get("validate"))
        try:
            self.prepared = services.builtin_credentials_prepare(
                workspace=workspace,
                provider_name=self.tool_provider.declaration.name,
                credentials=submitted,
                validate=self.validated,
            )
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(BuiltinToolCredential)
class BuiltinToolCredentialAdmin(ProviderCredentialAdminMixin, admin.ModelAdmin):
    form = BuiltinToolCredentialForm
    list_display = ["provider", "workspace", "is_valid", "last_validated_at", "updated_at"]
    list_filter = ["provider", "is_valid"]
    search_fields = ["workspace__name", "provider"]
    readonly_fields = CREDENTIAL_STATUS_FIELDS
    actions = ["test"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.builtin_credentials_store(
            workspace=obj.workspace,
            provider_name=form.tool_provider.declaration.name,
            cleaned=form.prepared,
            validated=form.validated,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description="Credentials (masked)")
    def masked_credentials(self, obj: BuiltinToolCredential) -> str:
        provider = builtin_providers.get(obj.provider)
        return _masked_html(payloads.builtin_credentials_masked(provider, obj) if provider else {})

    @admin.action(description="Test: validate the credentials with a real call")
    def test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for credential in queryset:
            ok, error = services.builtin_credentials_validate(credential=credential)
            if ok:
                self.message_user(request, f"{credential.provider}: credentials are valid")
            else:
                self.message_user(
                    request, f"{credential.provider}: test failed: {error}", messages.ERROR
                )


# -- custom API tools -----------------------------------------------------------------------
class ApiToolProviderForm(forms.ModelForm):
    api_key_value = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="API key",
        help_text="Sent as the header or query parameter chosen above",
    )

    class Meta:
        model = ApiToolProvider
        fields = [
            "workspace", "name", "description", "schema_type", "schema", "auth_type",
            "api_key_header", "api_key_header_prefix", "api_key_query_param", "api_key_value",
            "privacy_policy", "custom_disclaimer",
        ]  # fmt: skip
        widgets = {"schema": forms.Textarea(attrs={"rows": 20, "cols": 100})}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stored_key = ""
        if not self.instance._state.adding:
            self.fields["workspace"].disabled = True
            self.stored_key = selectors.api_tool_credentials(self.instance)["api_key_value"]
            if self.stored_key:
                self.fields["api_key_value"].help_text += "." + KEEP

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            spec = services.api_schema_parse(
                schema=cleaned.get("schema") or "", schema_type=cleaned.get("schema_type")
            )
            self.credentials = {
                key: cleaned.get(key) or ""
                for key in ("auth_type", "api_key_header", "api_key_header_prefix",
                            "api_key_query_param", "api_key_value")
            }  # fmt: skip
            services.api_credentials_clean(self.credentials, self.stored_key)
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        self.tool_count = len(spec.operations)
        return cleaned


@admin.register(ApiToolProvider)
class ApiToolProviderAdmin(admin.ModelAdmin):
    form = ApiToolProviderForm
    list_display = ["name", "workspace", "schema_type", "auth_type", "tool_names", "updated_at"]
    list_filter = ["schema_type", "auth_type"]
    search_fields = ["name", "workspace__name"]
    readonly_fields = ["masked_api_key", "tools_list", "created_at", "updated_at"]
    actions = ["test"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        common = {
            "name": data["name"], "schema": data["schema"], "schema_type": data["schema_type"],
            "credentials": form.credentials, "description": data.get("description") or "",
            "privacy_policy": data.get("privacy_policy") or "",
            "custom_disclaimer": data.get("custom_disclaimer") or "",
        }  # fmt: skip
        if change:
            fresh = ApiToolProvider.objects.get(pk=obj.pk)
            saved = services.api_tool_provider_update(provider=fresh, **common)
        else:
            saved = services.api_tool_provider_create(
                workspace=obj.workspace, created_by=cast(Any, request.user), **common
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description="Tools")
    def tool_names(self, obj: ApiToolProvider) -> str:
        try:
            return ", ".join(o.name for o in selectors.api_tool_spec(obj).operations)
        except Exception as exc:  # noqa: BLE001 - a list page must render
            return f"(invalid schema: {exc})"

    @admin.display(description="API key (masked)")
    def masked_api_key(self, obj: ApiToolProvider) -> str:
        value = payloads.api_credentials_masked(obj)["api_key_value"]
        return value or "-"

    @admin.display(description="Tools (parsed from the schema)")
    def tools_list(self, obj: ApiToolProvider) -> str:
        try:
            spec = selectors.api_tool_spec(obj)
        except Exception as exc:  # noqa: BLE001 - a change page must render
            return f"invalid schema: {exc}"
        rows = [(f"{o.method} {o.path}", _describe(o.declaration)) for o in spec.operations]
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows)

    @admin.action(description="Test: parse the schema and reach the server")
    def test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:

            def check(p: ApiToolProvider = provider) -> str:
                return services.api_tool_provider_test(provider=p)

            _report(self, request, provider.name, check)


def _describe(declaration: ToolDeclaration) -> str:
    params = ", ".join(
        f"{p.name}: {p.type}{'' if p.required else '?'}" for p in declaration.parameters
    )
    return f"{declaration.name}({params})"


# -- workflow tools -------------------------------------------------------------------------
class WorkflowToolProviderForm(forms.ModelForm):
    class Meta:
        model = WorkflowToolProvider
        fields = [
            "workspace", "app", "name", "label", "description", "parameters", "privacy_policy",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        app_field = cast(forms.ModelChoiceField, self.fields["app"])
        app_field.queryset = App.objects.filter(mode=App.Mode.WORKFLOW).select_related("workspace")
        if not self.instance._state.adding:
            self.fields["workspace"].disabled = True
            self.fields["app"].disabled = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            _, cleaned["name"], cleaned["parameters"] = services.workflow_tool_prepare(
                workspace=cleaned["workspace"],
                app_id=cleaned["app"].pk,
                name=cleaned.get("name") or "",
                parameters=cleaned.get("parameters") or [],
            )
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(WorkflowToolProvider)
class WorkflowToolProviderAdmin(admin.ModelAdmin):
    form = WorkflowToolProviderForm
    list_display = ["name", "app", "workspace", "updated_at"]
    search_fields = ["name", "workspace__name", "app__name"]
    readonly_fields = ["declaration", "created_at", "updated_at"]
    actions = ["test"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        common = {
            "name": data["name"], "label": data.get("label") or "",
            "description": data.get("description") or "", "parameters": data["parameters"],
            "privacy_policy": data.get("privacy_policy") or "",
        }  # fmt: skip
        if change:
            fresh = WorkflowToolProvider.objects.get(pk=obj.pk)
            saved = services.workflow_tool_provider_update(provider=fresh, **common)
        else:
            saved = services.workflow_tool_provider_create(
                workspace=obj.workspace, app_id=obj.app_id,
                created_by=cast(Any, request.user), **common,
            )  # fmt: skip
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description="Tool (from the published workflow)")
    def declaration(self, obj: WorkflowToolProvider) -> str:
        try:
            return _describe(services.workflow_tool_provider_test(provider=obj))
        except AppError as exc:
            return exc.message

    @admin.action(description="Test: build the tool from the published workflow")
    def test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:

            def build(p: WorkflowToolProvider = provider) -> str:
                return _describe(services.workflow_tool_provider_test(provider=p))

            _report(self, request, provider.name, build)


# -- MCP ------------------------------------------------------------------------------------
def _parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` per line, or a JSON object."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"headers: invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise forms.ValidationError("headers: a JSON object is expected")
        return {str(k): str(v) for k, v in data.items()}
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise forms.ValidationError(f"headers, line {number}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


class McpToolProviderForm(forms.ModelForm):
    server_url = forms.URLField(max_length=2048, assume_scheme="https")
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="One 'Name: value' per line (e.g. Authorization: Bearer …). Stored "
        "encrypted; stored values are shown masked — leave a masked value as it is to keep it.",
    )

    class Meta:
        model = McpToolProvider
        fields = ["workspace", "name", "server_identifier", "server_url", "transport", "timeout"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["server_identifier"].required = False
        self.previous: dict[str, str] = {}
        if not self.instance._state.adding:
            self.fields["workspace"].disabled = True
            self.previous = selectors.mcp_headers(self.instance)
            masked = payloads.mcp_headers_masked(self.instance)
            self.fields["headers"].initial = "\n".join(f"{k}: {v}" for k, v in masked.items())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        submitted = _parse_headers(cleaned.get("headers") or "")
        self.header_values = services.mcp_headers_clean(submitted, self.previous)
        try:
            self.tools = services.mcp_provider_connect(
                cleaned["server_url"], self.header_values, cleaned["transport"],
                cleaned["timeout"],
            )  # fmt: skip
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(McpToolProvider)
class McpToolProviderAdmin(admin.ModelAdmin):
    form = McpToolProviderForm
    list_display = ["name", "server_identifier", "workspace", "transport", "tool_count",
                    "tools_updated_at", "last_error"]  # fmt: skip
    list_filter = ["transport"]
    search_fields = ["name", "server_identifier", "workspace__name"]
    readonly_fields = ["tools_list", "tools_updated_at", "last_error", "created_at", "updated_at"]
    actions = ["test"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        common = {
            "name": data["name"], "server_url": data["server_url"],
            "headers": form.header_values, "transport": data["transport"],
            "timeout": data["timeout"], "server_identifier": data.get("server_identifier") or "",
            "tools": form.tools,
        }  # fmt: skip
        if change:
            fresh = McpToolProvider.objects.get(pk=obj.pk)
            saved = services.mcp_provider_update(provider=fresh, **common)
        else:
            saved = services.mcp_provider_create(
                workspace=obj.workspace, created_by=cast(Any, request.user), **common
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description="Tools")
    def tool_count(self, obj: McpToolProvider) -> int:
        return len(obj.tools or [])

    @admin.display(description="Tools (as last listed)")
    def tools_list(self, obj: McpToolProvider) -> str:
        rows = [(d.name, _describe(d)) for d in selectors.mcp_tool_declarations(obj)]
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows) if rows else "-"

    @admin.action(description="Test: list the server's tools again (refresh)")
    def test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:

            def refresh(p: McpToolProvider = provider) -> str:
                tools = selectors.mcp_tool_declarations(services.mcp_provider_refresh(provider=p))
                return f"{len(tools)} tool(s): {', '.join(t.name for t in tools)}"

            _report(self, request, provider.name, refresh)


from apps.tools import admin_extensions  # noqa: E402,F401  (API-based extensions)
