"""Tool declarations, the tool/provider base classes and the built-in provider registry.

Pure Python (no Django): built-in providers (``apps/tools/builtin/<provider>.py``), custom
API tools (``openapi.py``), workflow tools and MCP tools all describe themselves with the
same Dify-style declarations, so the console, the agent loop and the tool node see one
shape. A declaration turns into Dify's JSON (``to_dify()``) and into the JSON schema the
model sees (``llm_schema()``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.workflows.engine.ports import HttpClient, ToolResult

__all__ = [
    "BuiltinProvider",
    "BuiltinTool",
    "CredentialField",
    "ProviderDeclaration",
    "ProviderRegistry",
    "ToolContext",
    "ToolDeclaration",
    "ToolError",
    "ToolParameter",
    "ToolResult",
    "builtin_providers",
    "coerce_parameters",
]

PARAMETER_TYPES = frozenset(
    {"string", "number", "boolean", "select", "secret-input", "file", "files", "object", "array"}
)
CREDENTIAL_TYPES = frozenset({"secret-input", "text-input", "select", "boolean"})
_SCHEMA_TYPES = {
    "string": "string",
    "secret-input": "string",
    "select": "string",
    "number": "number",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "file": "object",
    "files": "array",
}


class ToolError(Exception):
    """A tool failed in a way its caller (a user, a model) should read: the message is shown."""


def _i18n(text: str) -> dict[str, str]:
    return {"en_US": text, "zh_Hans": text}


@dataclass(frozen=True)
class ToolParameter:
    name: str
    type: str = "string"
    required: bool = False
    form: str = "llm"  # "llm": the model fills it; "form": set in the editor/agent config
    label: str = ""
    human_description: str = ""
    llm_description: str = ""
    default: Any = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in PARAMETER_TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")
        if self.form not in ("llm", "form"):
            raise ValueError(f"parameter {self.name}: form must be llm or form")

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _SCHEMA_TYPES[self.type]}
        description = self.llm_description or self.human_description
        if description:
            schema["description"] = description
        if self.options:
            schema["enum"] = list(self.options)
        return schema

    def to_dify(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": _i18n(self.label or self.name),
            "human_description": _i18n(self.human_description or self.llm_description),
            "llm_description": self.llm_description or self.human_description,
            "type": self.type,
            "form": self.form,
            "required": self.required,
            "default": self.default,
            "options": [{"value": o, "label": _i18n(o)} for o in self.options],
        }


@dataclass(frozen=True)
class CredentialField:
    name: str
    type: str = "secret-input"
    required: bool = True
    label: str = ""
    help: str = ""
    placeholder: str = ""
    default: Any = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in CREDENTIAL_TYPES:
            raise ValueError(f"credential {self.name}: unknown type {self.type!r}")

    @property
    def secret(self) -> bool:
        return self.type == "secret-input"

    def to_dify(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "label": _i18n(self.label or self.name),
            "help": _i18n(self.help) if self.help else None,
            "placeholder": _i18n(self.placeholder) if self.placeholder else None,
            "default": self.default,
            "options": [{"value": o, "label": _i18n(o)} for o in self.options],
        }


@dataclass(frozen=True)
class ToolDeclaration:
    name: str
    label: str = ""
    description: str = ""  # for people
    llm_description: str = ""  # for the model; falls back to description
    parameters: tuple[ToolParameter, ...] = ()

    def parameter(self, name: str) -> ToolParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def llm_schema(self, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
        """JSON schema of the parameters the model fills (form ``llm``)."""
        skip = set(exclude)
        llm = [p for p in self.parameters if p.form == "llm" and p.name not in skip]
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in llm},
            "required": [p.name for p in llm if p.required],
        }

    def to_dify(self, *, author: str = "") -> dict[str, Any]:
        return {
            "name": self.name,
            "author": author,
            "label": _i18n(self.label or self.name),
            "description": _i18n(self.description or self.llm_description),
            "llm_description": self.llm_description or self.description,
            "parameters": [p.to_dify() for p in self.parameters],
        }


@dataclass(frozen=True)
class ProviderDeclaration:
    name: str  # Dify's provider id, e.g. "time", "webscraper"
    label: str = ""
    description: str = ""
    author: str = "dify-django"
    icon: str = ""
    tags: tuple[str, ...] = ()
    credentials: tuple[CredentialField, ...] = ()

    @property
    def needs_credentials(self) -> bool:
        return any(c.required for c in self.credentials)

    def to_dify(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "name": self.name,
            "author": self.author,
            "label": _i18n(self.label or self.name),
            "description": _i18n(self.description),
            "icon": self.icon,
            "tags": list(self.tags),
            "credentials_schema": [c.to_dify() for c in self.credentials],
        }


@dataclass
class ToolContext:
    """What a tool may use while it runs: its provider's decrypted credentials, the end
    user, and the SSRF-guarded outbound HTTP client (the only way out)."""

    credentials: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    http: HttpClient | None = None
    workspace_id: str | None = None

    def require_http(self) -> HttpClient:
        if self.http is None:
            raise ToolError("this tool needs outbound HTTP, which is not configured")
        return self.http


class BuiltinTool(ABC):
    declaration: ToolDeclaration

    @abstractmethod
    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Run the tool with coerced parameters; raise ToolError with a readable message."""


class BuiltinProvider(ABC):
    declaration: ProviderDeclaration
    tools: tuple[BuiltinTool, ...] = ()

    def tool(self, name: str) -> BuiltinTool | None:
        return next((t for t in self.tools if t.declaration.name == name), None)

    def validate_credentials(self, credentials: Mapping[str, Any], ctx: ToolContext) -> None:
        """Raise ToolError when the credentials do not work (a real call where there is one).
        The default only checks that required fields are present."""
        missing = [
            c.name
            for c in self.declaration.credentials
            if c.required and not credentials.get(c.name)
        ]
        if missing:
            raise ToolError(f"missing credentials: {', '.join(missing)}")


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, BuiltinProvider] = {}

    def register(self, provider: BuiltinProvider) -> BuiltinProvider:
        name = provider.declaration.name
        if name in self._providers:
            raise ValueError(f"tool provider {name!r} is already registered")
        self._providers[name] = provider
        return provider

    def get(self, name: str) -> BuiltinProvider | None:
        return self._providers.get(_short_name(name))

    def __iter__(self) -> Any:
        return iter(self._providers.values())

    def names(self) -> list[str]:
        return sorted(self._providers)


def _short_name(name: str) -> str:
    """Dify's plugin-style ids (``langgenius/time/time``) name our built-in ``time``."""
    parts = [p for p in name.split("/") if p]
    return parts[-1] if parts else name


class _Coercer(Protocol):
    def __call__(self, value: Any) -> Any: ...


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = str(value).strip()
        number = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def coerce_parameters(
    declaration: ToolDeclaration, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Check and convert parameters against the declaration: defaults filled in, required
    ones present, numbers/booleans converted from strings, select values in their options.
    Unknown parameters are kept (OpenAPI and MCP tools may take more than they declare).
    Raises ToolError naming the parameter."""
    result = dict(parameters)
    for param in declaration.parameters:
        value = result.get(param.name)
        if value is None or value == "":
            if param.default is not None and param.default != "":
                result[param.name] = value = param.default
            elif param.required:
                raise ToolError(f"{declaration.name}: parameter {param.name!r} is required")
            else:
                result.pop(param.name, None)
                continue
        try:
            if param.type == "number":
                result[param.name] = _number(value)
            elif param.type == "boolean":
                result[param.name] = _boolean(value)
            elif param.type in ("string", "secret-input") and not isinstance(value, str):
                result[param.name] = value if isinstance(value, (dict, list)) else str(value)
            elif param.type == "select":
                value = str(value)
                if param.options and value not in param.options:
                    raise ValueError(f"must be one of {', '.join(param.options)}")
                result[param.name] = value
        except (TypeError, ValueError) as exc:
            raise ToolError(f"{declaration.name}: parameter {param.name!r}: {exc}") from exc
    return result


builtin_providers = ProviderRegistry()
"""Built-in providers register here from ``apps/tools/builtin/__init__.py`` (one line each)."""
