"""OpenAPI 3 / Swagger 2 documents become tools; invocations become requests (pure, no DB)."""

import json

import pytest

from apps.tools.base import ToolError, coerce_parameters
from apps.tools.openapi import ApiAuth, build_request, invoke_operation, parse_spec
from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.ports import HttpResponse

PETSTORE_30 = """
openapi: 3.0.3
info: {title: Pet store, description: Pets for sale}
servers:
  - url: https://{region}.pets.example.com/v1
    variables: {region: {default: eu}}
paths:
  /pets/{petId}:
    parameters:
      - $ref: '#/components/parameters/PetId'
    get:
      operationId: getPet
      summary: One pet
      description: Find a pet by its id.
      parameters:
        - {name: verbose, in: query, schema: {type: boolean}, description: More details}
        - {name: X-Trace, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
  /pets:
    post:
      summary: Add a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewPet'}
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, required: false, schema: {type: integer, default: 10}}
        - name: kind
          in: query
          schema: {type: string, enum: [cat, dog]}
components:
  parameters:
    PetId: {name: petId, in: path, required: true, description: The pet id,
            schema: {type: string}}
  schemas:
    NewPet:
      allOf:
        - $ref: '#/components/schemas/Named'
        - type: object
          required: [age]
          properties:
            age: {type: integer, description: Age in years}
            tags: {type: array, items: {type: string}}
            owner: {$ref: '#/components/schemas/Owner'}
    Named:
      type: object
      required: [name]
      properties:
        name: {type: string, description: The pet's name}
    Owner:
      type: object
      description: Who owns it
      properties: {email: {type: string}}
"""

SWAGGER_20 = {
    "swagger": "2.0",
    "info": {"title": "Weather", "version": "1"},
    "host": "api.weather.example.com",
    "basePath": "/v2/",
    "schemes": ["http", "https"],
    "paths": {
        "/forecast/{city}": {
            "post": {
                "operationId": "forecast",
                "description": "Forecast for a city",
                "parameters": [
                    {"name": "city", "in": "path", "required": True, "type": "string"},
                    {"name": "units", "in": "query", "type": "string",
                     "enum": ["metric", "imperial"]},
                    {"name": "body", "in": "body", "required": True,
                     "schema": {"$ref": "#/definitions/Request"}},
                ],
            }
        }
    },
    "definitions": {
        "Request": {
            "type": "object",
            "required": ["days"],
            "properties": {
                "days": {"type": "integer", "description": "How many days"},
                "detailed": {"type": "boolean"},
            },
        }
    },
}  # fmt: skip


def test_openapi_3_operations_become_tools_with_their_parameters():
    spec = parse_spec(PETSTORE_30)
    assert spec.schema_type == "openapi" and spec.title == "Pet store"
    assert spec.server_url == "https://eu.pets.example.com/v1"
    assert [o.name for o in spec.operations] == ["getPet", "post_pets", "listPets"]
    get_pet = spec.operation("getPet")
    assert get_pet.method == "GET" and get_pet.path == "/pets/{petId}"
    assert get_pet.declaration.description == "Find a pet by its id."
    params = {p.name: p for p in get_pet.declaration.parameters}
    assert params["petId"].required and params["petId"].llm_description == "The pet id"
    assert params["verbose"].type == "boolean" and not params["verbose"].required
    assert {p.name: p.location for p in get_pet.parameters} == {
        "petId": "path", "verbose": "query", "X-Trace": "header", "session": "cookie",
    }  # fmt: skip


def test_request_body_ref_and_all_of_are_resolved_into_parameters():
    add = parse_spec(PETSTORE_30).operation("post_pets")
    params = {p.name: p for p in add.declaration.parameters}
    assert set(params) == {"name", "age", "tags", "owner"}
    assert params["name"].required and params["age"].required and not params["tags"].required
    assert params["age"].type == "number" and params["tags"].type == "array"
    assert params["owner"].type == "object" and params["owner"].llm_description == "Who owns it"
    assert add.body_content_type == "application/json"
    schema = add.declaration.llm_schema()
    assert schema["required"] == ["name", "age"]
    assert schema["properties"]["name"] == {"type": "string", "description": "The pet's name"}


def test_enums_become_select_and_defaults_are_kept():
    listing = parse_spec(PETSTORE_30).operation("listPets")
    params = {p.name: p for p in listing.declaration.parameters}
    assert params["kind"].type == "select" and params["kind"].options == ("cat", "dog")
    assert params["limit"].default == 10
    assert coerce_parameters(listing.declaration, {}) == {"limit": 10}
    with pytest.raises(ToolError, match="kind"):
        coerce_parameters(listing.declaration, {"kind": "bird"})


def test_swagger_2_document_with_body_parameter_and_definitions():
    spec = parse_spec(json.dumps(SWAGGER_20), schema_type="swagger")
    assert spec.schema_type == "swagger"
    assert spec.server_url == "https://api.weather.example.com/v2"
    forecast = spec.operation("forecast")
    params = {p.name: p for p in forecast.declaration.parameters}
    assert set(params) == {"city", "units", "days", "detailed"}
    assert params["units"].type == "select" and params["units"].options == ("metric", "imperial")
    assert params["days"].required and params["days"].llm_description == "How many days"
    request = build_request(
        forecast, {"city": "São Paulo", "units": "metric", "days": "3", "detailed": True}
    )
    assert request.url == "https://api.weather.example.com/v2/forecast/S%C3%A3o%20Paulo"
    assert request.params == [("units", "metric")]
    assert json.loads(request.content) == {"days": 3, "detailed": True}


def test_build_request_encodes_path_and_places_every_parameter():
    get_pet = parse_spec(PETSTORE_30).operation("getPet")
    request = build_request(
        get_pet,
        {"petId": "a b/c?d", "verbose": True, "X-Trace": "t-1", "session": "s 1"},
        ApiAuth(auth_type="api_key_header", api_key_value="k-123", api_key_header_prefix="bearer"),
    )
    assert request.method == "GET"
    assert request.url == "https://eu.pets.example.com/v1/pets/a%20b%2Fc%3Fd"
    assert request.params == [("verbose", "true")]
    assert request.headers == {
        "X-Trace": "t-1", "Cookie": "session=s%201", "Authorization": "Bearer k-123",
    }  # fmt: skip
    assert request.content is None


def test_query_auth_and_custom_header_auth():
    listing = parse_spec(PETSTORE_30).operation("listPets")
    query = build_request(
        listing, {"limit": 2}, ApiAuth.from_credentials(
            {"auth_type": "api_key_query", "api_key_query_param": "token", "api_key_value": "q1"}
        ),
    )  # fmt: skip
    assert query.params == [("limit", "2"), ("token", "q1")]
    legacy = ApiAuth.from_credentials(
        {"auth_type": "api_key", "api_key_header": "X-Key", "api_key_value": "v",
         "api_key_header_prefix": "custom"}
    )  # fmt: skip
    assert build_request(listing, {}, legacy).headers == {"X-Key": "v"}
    with pytest.raises(ToolError, match="API key is not set"):
        build_request(listing, {}, ApiAuth(auth_type="api_key_header"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openapi: 3.0.0\ninfo: {title: x}\nservers: [{url: 'https://x.example'}]\n", "no paths"),
        ("openapi: 3.0.0\npaths: {/a: {get: {operationId: a}}}\n", "operation a: no server URL"),
        ("openapi: 3.0.0\nservers: [{url: /relative}]\npaths: {/a: {get: {}}}\n",
         "operation get_a: no server URL"),
        ("openapi: [3.0\n  paths: {", "neither valid JSON nor valid YAML"),
        ("just a string", "must be an OpenAPI or Swagger object"),
        ("{\"info\": {}}", "neither OpenAPI 3.x"),
        ("openapi: 3.0.0\nservers: [{url: 'https://x.example'}]\n"
         "paths: {'/a/{id}': {get: {operationId: byId}}}\n",
         "operation byId: path parameter 'id' is not declared"),
        ("openapi: 3.0.0\nservers: [{url: 'https://x.example'}]\npaths: {/a: {post: "
         "{operationId: add, requestBody: {content: {application/json: {schema: "
         "{$ref: '#/components/schemas/Nope'}}}}}}}\n",
         "operation add: $ref '#/components/schemas/Nope' not found"),
    ],
)  # fmt: skip
def test_bad_documents_raise_clear_errors(text, message):
    with pytest.raises(ToolError) as info:
        parse_spec(text)
    assert message in str(info.value)


def test_schema_type_must_match_the_document():
    with pytest.raises(ToolError, match="schema_type is swagger but the document is openapi"):
        parse_spec(PETSTORE_30, schema_type="swagger")


class RecordingHttp:
    def __init__(self, response=None, error=None):
        self.response, self.error, self.calls = response, error, []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        if self.error:
            raise self.error
        return self.response


def test_invoke_returns_text_and_json_and_raises_on_http_errors():
    listing = parse_spec(PETSTORE_30).operation("listPets")
    ok = RecordingHttp(HttpResponse(200, {}, b'{"pets": [1]}', "application/json"))
    result = invoke_operation(listing, {"limit": 1}, http=ok)
    assert result.text == '{"pets": [1]}' and result.json == [{"pets": [1]}]
    plain = RecordingHttp(HttpResponse(200, {}, b"hello", "text/plain"))
    assert invoke_operation(listing, {}, http=plain).json == []
    empty = RecordingHttp(HttpResponse(204, {}, b"", ""))
    assert "Empty response" in invoke_operation(listing, {}, http=empty).text
    failing = RecordingHttp(HttpResponse(404, {}, b"no such pet", "text/plain"))
    with pytest.raises(ToolError, match="listPets: request failed with status code 404: no such"):
        invoke_operation(listing, {}, http=failing)
    blocked = RecordingHttp(error=NodeError("requests to x are not allowed: internal address"))
    with pytest.raises(ToolError, match="listPets: request failed: requests to x are not allowed"):
        invoke_operation(listing, {}, http=blocked)
