"""The OpenAPI schema is complete and clean: no generator warnings or errors, valid
OpenAPI 3, the Service API's key schemes and Dify's request fields documented."""

import json

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS


@pytest.fixture
def schema(tmp_path):
    out = tmp_path / "schema.json"
    GENERATOR_STATS.reset()  # earlier schema requests in this process left their notes
    call_command("spectacular", "--fail-on-warn", "--validate", "--format", "openapi-json",
                 "--file", str(out))  # fmt: skip
    return json.loads(out.read_text())


def _properties(schema, path, method="post"):
    body = schema["paths"][path][method]["requestBody"]["content"]
    media = body.get("application/json") or body["multipart/form-data"]
    ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][ref]
    return component["properties"], set(component.get("required", []))


def _enum(schema, prop):
    """The values of an enum property (inline, or a $ref / allOf to an enum component)."""
    if "enum" in prop:
        return prop["enum"]
    refs = (
        [prop["$ref"]]
        if "$ref" in prop
        else [p["$ref"] for p in prop.get("allOf", prop.get("oneOf", []))]
    )
    values = []
    for ref in refs:
        values += schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["enum"]
    return values


def _query_names(schema, path, method="get"):
    params = schema["paths"][path][method].get("parameters", [])
    return {p["name"] for p in params if p["in"] == "query"}


def test_schema_generates_without_warnings_and_validates(schema):
    assert schema["openapi"].startswith("3.")
    assert len(schema["paths"]) > 80


def test_service_api_declares_app_key_and_web_token_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["AppApiKey"] == {
        "type": "http", "scheme": "bearer", "description": schemes["AppApiKey"]["description"]
    }  # fmt: skip
    assert "app-" in schemes["AppApiKey"]["description"]
    assert schemes["WebAppToken"]["scheme"] == "bearer"
    chat_security = schema["paths"]["/v1/chat-messages"]["post"]["security"]
    assert {"AppApiKey": []} in chat_security and {"WebAppToken": []} in chat_security
    # endpoints only an app key may call do not offer the web token
    assert schema["paths"]["/v1/workflows/logs"]["get"]["security"] == [{"AppApiKey": []}]
    assert schema["paths"]["/v1/datasets"]["get"]["security"] == [{"DatasetApiKey": []}]


def test_service_api_request_bodies_carry_difys_fields(schema):
    props, required = _properties(schema, "/v1/chat-messages")
    assert {"query", "inputs", "response_mode", "user", "conversation_id", "files",
            "auto_generate_name"} <= set(props)  # fmt: skip
    assert _enum(schema, props["response_mode"]) == ["streaming", "blocking"]
    assert {"query", "user"} <= required

    props, required = _properties(schema, "/v1/completion-messages")
    assert {"inputs", "query", "response_mode", "user", "files"} <= set(props)
    assert {"inputs", "user"} <= required and "query" not in required

    props, _ = _properties(schema, "/v1/workflows/run")
    assert {"inputs", "response_mode", "user", "files"} <= set(props)
    assert _properties(schema, "/v1/workflows/{workflow_id}/run")[0] == props

    props, required = _properties(schema, "/v1/messages/{message_id}/feedbacks")
    assert {"rating", "user", "content"} <= set(props) and "user" in required
    assert set(_enum(schema, props["rating"])) >= {"like", "dislike"}

    props, _ = _properties(schema, "/v1/conversations/{conversation_id}/name")
    assert {"name", "auto_generate", "user"} <= set(props)

    props, required = _properties(schema, "/v1/files/upload")
    assert props["file"]["format"] == "binary" and {"file", "user"} <= required

    props, required = _properties(schema, "/v1/chat-messages/{task_id}/stop")
    assert required == {"user"}


def test_service_api_query_parameters_are_listed(schema):
    assert {"user", "conversation_id", "first_id", "limit"} <= _query_names(schema, "/v1/messages")
    assert {"user", "last_id", "limit", "sort_by"} <= _query_names(schema, "/v1/conversations")
    assert {"page", "limit"} <= _query_names(schema, "/v1/app/feedbacks")
    assert "user" in _query_names(schema, "/v1/messages/{message_id}/suggested")


def test_service_api_documents_difys_error_body(schema):
    responses = schema["paths"]["/v1/chat-messages"]["post"]["responses"]
    error = responses["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][error]["properties"]) == {
        "code", "message", "status"
    }  # fmt: skip
    assert {"200", "400", "401", "404"} <= set(responses)
    assert "text/event-stream" in responses["200"]["content"]
