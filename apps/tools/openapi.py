"""Custom API tools: an OpenAPI 3.x or Swagger 2.0 document (JSON or YAML) becomes one tool
per operation, and an invocation becomes one HTTP request through the guarded client.

Pure Python (no Django). Parameters come from the operation's path/query/header/cookie
parameters and from the top-level properties of its JSON (or form) request body, with
``$ref`` resolved inside the document. The base URL is ``servers[0].url`` (Swagger 2:
``schemes[0]://host/basePath``). Errors are ``ToolError`` naming the operation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from apps.tools.base import ToolDeclaration, ToolError, ToolParameter, ToolResult
from apps.workflows.engine.errors import WorkflowError
from apps.workflows.engine.ports import HttpClient

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LOCATIONS = ("path", "query", "header", "cookie", "body")
EMPTY_RESPONSE = "Empty response from the tool, please check your parameters and try again."
_MAX_REF_DEPTH = 32
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ApiParameter:
    name: str
    location: str  # path | query | header | cookie | body
    schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiOperation:
    declaration: ToolDeclaration
    method: str
    path: str
    server_url: str
    parameters: tuple[ApiParameter, ...] = ()
    body_content_type: str = ""  # application/json, application/x-www-form-urlencoded or ""

    @property
    def name(self) -> str:
        return self.declaration.name

    def to_dify(self) -> dict[str, Any]:
        """The shape of Dify's schema preview (``parameters_schema`` items)."""
        return {
            "server_url": self.server_url + self.path,
            "method": self.method,
            "path": self.path,
            "summary": self.declaration.description,
            "operation_id": self.name,
            "author": "",
            "parameters": [p.to_dify() for p in self.declaration.parameters],
        }


@dataclass(frozen=True)
class ApiSpec:
    schema_type: str  # openapi | swagger
    title: str
    description: str
    server_url: str
    operations: tuple[ApiOperation, ...]

    def operation(self, name: str) -> ApiOperation | None:
        return next((o for o in self.operations if o.name == name), None)

    def declarations(self) -> list[ToolDeclaration]:
        return [o.declaration for o in self.operations]


# -- parsing --------------------------------------------------------------------------------
def load_document(text: str) -> dict[str, Any]:
    """The document as a dict: JSON first, then YAML."""
    if not text or not text.strip():
        raise ToolError("the schema is empty")
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ToolError(f"the schema is neither valid JSON nor valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ToolError("the schema must be an OpenAPI or Swagger object")
    return document


def detect_schema_type(document: Mapping[str, Any]) -> str:
    if str(document.get("openapi", "")).startswith("3."):
        return "openapi"
    if str(document.get("swagger", "")).startswith("2."):
        return "swagger"
    raise ToolError('the schema is neither OpenAPI 3.x ("openapi: 3.x") nor Swagger 2.0')


def parse_spec(text: str, *, schema_type: str | None = None) -> ApiSpec:
    """Parse the document into operations; ``schema_type`` (if given) must match it."""
    document = load_document(text)
    found = detect_schema_type(document)
    if schema_type and schema_type != found:
        raise ToolError(f"schema_type is {schema_type} but the document is {found}")
    resolver = _Resolver(document)
    info: dict[str, Any] = document["info"] if isinstance(document.get("info"), dict) else {}
    default_server = (
        _openapi_server(document.get("servers"))
        if found == "openapi"
        else _swagger_server(document)
    )
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ToolError("the schema has no paths: there is no operation to turn into a tool")
    operations: list[ApiOperation] = []
    seen: set[str] = set()
    for path, item in paths.items():
        item = resolver.resolve(item, f"paths.{path}")
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method, raw in item.items():  # in the document's order
            if method not in METHODS or not isinstance(raw, dict):
                continue
            name = _operation_name(raw, method, str(path))
            if name in seen:
                raise ToolError(f"operation {name}: the name is used by two operations")
            seen.add(name)
            server = default_server
            if found == "openapi":
                server = _openapi_server(raw.get("servers") or item.get("servers")) or server
            if not server:
                raise ToolError(
                    f"operation {name}: no server URL (set servers[0].url to an absolute URL"
                    + (")" if found == "openapi" else "; Swagger 2: host and schemes)")
                )
            parser = _OperationParser(resolver, name, found, document)
            operations.append(parser.parse(raw, str(path), method, server, shared))
    if not operations:
        raise ToolError("the schema has no operations under paths")
    return ApiSpec(
        schema_type=found,
        title=str(info.get("title") or ""),
        description=str(info.get("description") or ""),
        server_url=default_server,
        operations=tuple(operations),
    )


def _operation_name(raw: Mapping[str, Any], method: str, path: str) -> str:
    operation_id = str(raw.get("operationId") or "").strip()
    if not operation_id:
        operation_id = f"{method}_{path.strip('/').replace('/', '_')}"
    name = _NAME_UNSAFE.sub("_", operation_id).strip("_")
    return name[:64] or method


def _openapi_server(servers: Any) -> str:
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    server = servers[0]
    url = str(server.get("url") or "")
    for key, variable in (server.get("variables") or {}).items():
        if isinstance(variable, dict) and "default" in variable:
            url = url.replace("{" + str(key) + "}", str(variable["default"]))
    return url.rstrip("/") if is_absolute_url(url) else ""


def _swagger_server(document: Mapping[str, Any]) -> str:
    host = str(document.get("host") or "")
    if not host:
        return ""
    schemes = document.get("schemes") or ["https"]
    scheme = "https" if "https" in schemes else str(schemes[0])
    base = "/" + str(document.get("basePath") or "").strip("/")
    url = f"{scheme}://{host}{base}".rstrip("/")
    return url if is_absolute_url(url) else ""


def is_absolute_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _Resolver:
    """``$ref`` inside the document (``#/components/...``, ``#/definitions/...``)."""

    def __init__(self, document: Mapping[str, Any]):
        self.document = document

    def resolve(self, value: Any, where: str, depth: int = 0) -> Any:
        while isinstance(value, dict) and "$ref" in value:
            if depth > _MAX_REF_DEPTH:
                raise ToolError(f"{where}: $ref chain too deep (a cycle?)")
            value = self.lookup(str(value["$ref"]), where)
            depth += 1
        return value

    def lookup(self, ref: str, where: str) -> Any:
        if not ref.startswith("#/"):
            raise ToolError(f"{where}: only $ref inside the document is supported, not {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise ToolError(f"{where}: $ref {ref!r} not found in the document")
            node = node[part]
        return node

    def schema(self, value: Any, where: str, depth: int = 0) -> dict[str, Any]:
        """A schema with its $ref resolved and ``allOf`` members' properties merged."""
        if depth > _MAX_REF_DEPTH:
            raise ToolError(f"{where}: schema nesting too deep (a cycle?)")
        schema = self.resolve(value, where)
        if not isinstance(schema, dict):
            return {}
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(merged.get("properties") or {})
        required = list(merged.get("required") or [])
        for member in schema.get("allOf") or []:
            part = self.schema(member, where, depth + 1)
            properties.update(part.get("properties") or {})
            required += [r for r in part.get("required") or [] if r not in required]
            for key in ("type", "description"):
                if key in part and key not in merged:
                    merged[key] = part[key]
        merged["properties"], merged["required"] = properties, required
        return merged


class _OperationParser:
    def __init__(self, resolver: _Resolver, name: str, schema_type: str, document: Any):
        self.resolver, self.name, self.schema_type = resolver, name, schema_type
        self.document = document
        self.where = f"operation {name}"

    def parse(
        self, raw: Mapping[str, Any], path: str, method: str, server: str, shared: list[Any]
    ) -> ApiOperation:
        declared: dict[tuple[str, str], dict[str, Any]] = {}
        for item in [*shared, *(raw.get("parameters") or [])]:  # operation overrides path
            param = self.resolver.resolve(item, self.where)
            if not isinstance(param, dict) or not param.get("name") or not param.get("in"):
                raise ToolError(f"{self.where}: every parameter needs a name and an 'in'")
            declared[(str(param["name"]), str(param["in"]))] = param
        tool_params: list[ToolParameter] = []
        api_params: list[ApiParameter] = []
        body_type = ""
        for (pname, location), param in declared.items():
            if location == "body":  # Swagger 2: one body parameter with a schema
                body_type = "application/json"
                body = self.resolver.schema(param.get("schema") or {}, self.where)
                self._body(body, bool(param.get("required")), tool_params, api_params)
                continue
            if location == "formData":
                body_type = "application/x-www-form-urlencoded"
                location = "body"
            if location not in LOCATIONS:
                raise ToolError(f"{self.where}: parameter {pname!r}: unknown location {location!r}")
            schema = self._param_schema(param)
            required = bool(param.get("required")) or location == "path"
            description = str(param.get("description") or schema.get("description") or "")
            self._add(tool_params, api_params, pname, location, schema, required, description)
        request_body = self.resolver.resolve(raw.get("requestBody"), self.where)
        if isinstance(request_body, dict):
            content = request_body.get("content") or {}
            for kind in ("application/json", "application/x-www-form-urlencoded"):
                media = next((v for k, v in content.items() if k.split(";")[0] == kind), None)
                if isinstance(media, dict):
                    body_type = kind
                    body = self.resolver.schema(media.get("schema") or {}, self.where)
                    required = bool(request_body.get("required"))
                    self._body(body, required, tool_params, api_params)
                    break
        for placeholder in re.findall(r"{([^}/]+)}", path):
            if not any(p.name == placeholder and p.location == "path" for p in api_params):
                raise ToolError(f"{self.where}: path parameter {placeholder!r} is not declared")
        description = str(raw.get("description") or raw.get("summary") or "")
        declaration = ToolDeclaration(
            name=self.name,
            label=str(raw.get("summary") or self.name),
            description=description,
            llm_description=description,
            parameters=tuple(tool_params),
        )
        return ApiOperation(
            declaration=declaration,
            method=method.upper(),
            path=path,
            server_url=server,
            parameters=tuple(api_params),
            body_content_type=body_type,
        )

    def _param_schema(self, param: Mapping[str, Any]) -> dict[str, Any]:
        if self.schema_type == "swagger" and "schema" not in param:
            return {k: v for k, v in param.items() if k not in ("name", "in", "required")}
        schema = self.resolver.schema(param.get("schema") or {}, self.where)
        if not schema and isinstance(param.get("content"), dict):  # content-encoded param
            media: Any = next(iter(param["content"].values()), None)
            inner = media.get("schema") if isinstance(media, dict) else None
            schema = self.resolver.schema(inner or {}, self.where)
        return schema

    def _body(
        self,
        body: Mapping[str, Any],
        body_required: bool,
        tool_params: list[ToolParameter],
        api_params: list[ApiParameter],
    ) -> None:
        required = set(body.get("required") or [])
        for pname, raw in (body.get("properties") or {}).items():
            schema = self.resolver.schema(raw, self.where)
            description = str(schema.get("description") or "")
            is_required = body_required and pname in required
            self._add(tool_params, api_params, str(pname), "body", schema, is_required, description)

    def _add(
        self,
        tool_params: list[ToolParameter],
        api_params: list[ApiParameter],
        name: str,
        location: str,
        schema: Mapping[str, Any],
        required: bool,
        description: str,
    ) -> None:
        if any(p.name == name for p in tool_params):
            return  # the first one wins (a query and a body field of the same name)
        kind, options = _parameter_type(schema)
        tool_params.append(
            ToolParameter(
                name=name,
                type=kind,
                required=required,
                form="llm",
                label=str(schema.get("title") or name),
                human_description=description,
                llm_description=description,
                default=schema.get("default"),
                options=options,
            )
        )
        api_params.append(ApiParameter(name=name, location=location, schema=dict(schema)))


def _parameter_type(schema: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    if schema.get("enum") and kind in (None, "string"):
        return "select", tuple(str(v) for v in schema["enum"] if v is not None)
    if kind == "string" and schema.get("format") == "binary":
        return "file", ()
    return {
        "integer": "number",
        "number": "number",
        "boolean": "boolean",
        "array": "array",
        "object": "object",
    }.get(str(kind), "string"), ()


# -- invoking -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiAuth:
    """Dify's custom-tool credentials."""

    auth_type: str = "none"  # none | api_key_header | api_key_query
    api_key_header: str = "Authorization"
    api_key_value: str = ""
    api_key_header_prefix: str = "custom"  # basic | bearer | custom
    api_key_query_param: str = "key"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> ApiAuth:
        auth_type = str(credentials.get("auth_type") or "none")
        if auth_type == "api_key":  # Dify's older spelling of api_key_header
            auth_type = "api_key_header"
        return cls(
            auth_type=auth_type,
            api_key_header=str(credentials.get("api_key_header") or "Authorization"),
            api_key_value=str(credentials.get("api_key_value") or ""),
            api_key_header_prefix=str(credentials.get("api_key_header_prefix") or "custom"),
            api_key_query_param=str(credentials.get("api_key_query_param") or "key"),
        )

    def header_value(self) -> str:
        if self.api_key_header_prefix == "bearer":
            return f"Bearer {self.api_key_value}"
        if self.api_key_header_prefix == "basic":
            return f"Basic {self.api_key_value}"
        return self.api_key_value


@dataclass
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None


def build_request(
    operation: ApiOperation, parameters: Mapping[str, Any], auth: ApiAuth | None = None
) -> PreparedRequest:
    """The HTTP request for one invocation (parameters already coerced to the declaration)."""
    auth = auth or ApiAuth()
    where = f"operation {operation.name}"
    path = operation.path
    request = PreparedRequest(method=operation.method, url="")
    cookies: list[str] = []
    body: dict[str, Any] = {}
    for param in operation.parameters:
        if param.name not in parameters or parameters[param.name] is None:
            if param.location == "path":
                raise ToolError(f"{where}: path parameter {param.name!r} is required")
            continue
        value = _convert(param.schema, parameters[param.name])
        if param.location == "path":
            path = path.replace("{" + param.name + "}", quote(_text(value), safe=""))
        elif param.location == "query":
            values = value if isinstance(value, list) else [value]
            request.params += [(param.name, _text(v)) for v in values]
        elif param.location == "header":
            request.headers[param.name] = _text(value)
        elif param.location == "cookie":
            cookies.append(f"{param.name}={quote(_text(value), safe='')}")
        else:
            body[param.name] = value
    if cookies:
        request.headers["Cookie"] = "; ".join(cookies)
    if operation.body_content_type == "application/json":
        request.headers["Content-Type"] = "application/json"
        request.content = json.dumps(body, ensure_ascii=False).encode()
    elif operation.body_content_type and body:
        request.headers["Content-Type"] = operation.body_content_type
        request.content = urlencode({k: _text(v) for k, v in body.items()}).encode()
    if auth.auth_type == "api_key_header":
        if not auth.api_key_value:
            raise ToolError(f"{where}: the API key is not set")
        request.headers[auth.api_key_header or "Authorization"] = auth.header_value()
    elif auth.auth_type == "api_key_query":
        if not auth.api_key_value:
            raise ToolError(f"{where}: the API key is not set")
        request.params.append((auth.api_key_query_param or "key", auth.api_key_value))
    request.url = operation.server_url + path
    return request


def invoke_operation(
    operation: ApiOperation,
    parameters: Mapping[str, Any],
    *,
    http: HttpClient,
    auth: ApiAuth | None = None,
    timeout: float | None = None,
) -> ToolResult:
    """Send the request and turn the answer into a ToolResult (Dify: the text always, the
    JSON object too when the answer is JSON). 4xx/5xx answers raise ToolError."""
    request = build_request(operation, parameters, auth)
    try:
        response = http.request(
            request.method,
            request.url,
            headers=request.headers,
            params=request.params or None,
            content=request.content,
            timeout=timeout,
        )
    except (WorkflowError, OSError) as exc:
        raise ToolError(f"operation {operation.name}: request failed: {exc}") from exc
    text = response.content.decode("utf-8", errors="replace")
    if response.status_code >= 400:
        raise ToolError(
            f"operation {operation.name}: request failed with status code "
            f"{response.status_code}: {text[:1000]}"
        )
    if not response.content:
        return ToolResult(text=EMPTY_RESPONSE)
    content_type = (response.content_type or response.headers.get("content-type", "")).lower()
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return ToolResult(text=text, json=[data])
    return ToolResult(text=text)


def _convert(schema: Mapping[str, Any], value: Any) -> Any:
    """Values as the schema's type (the model may send "3" for an integer)."""
    kind = schema.get("type")
    try:
        if kind == "integer" and not isinstance(value, bool):
            number = float(value)
            return int(number) if number.is_integer() else number
        if kind in ("object", "array") and isinstance(value, str):
            return json.loads(value)
    except (TypeError, ValueError):
        return value
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
