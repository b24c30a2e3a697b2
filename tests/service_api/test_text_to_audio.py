"""POST /v1/text-to-audio: text or the caller's own message, voices, codes, tenants, auth."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.providers.models import DefaultModel
from apps.workflows.web.auth import web_token_mint
from tests.factories import app_key, assert_dify_error, dataset_key, make_workspace, service
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer
from tests.service_api.audio_support import (
    TTS_ON,
    connect_speech,
    speech_app,
    spoken,
    stored_message,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]


@pytest.fixture
def server():
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS) as fake:
        yield fake


@pytest.fixture
def app(server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    return speech_app(workspace, **TTS_ON)


def _post(client, **body):
    return client.post("/v1/text-to-audio", body, format="json")


def _audio(response) -> bytes:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/mpeg"
    assert response.streaming
    return b"".join(response)


def test_text_is_spoken_in_the_apps_voice_or_the_requested_one(server, app):
    client = service(app_key(app))
    assert _audio(_post(client, text="Good morning to you", user="alice")) == spoken(
        "Good morning to you", "nova"
    )
    echoed = _post(client, text="  Hi  ", voice="echo", streaming=False)
    assert _audio(echoed) == spoken("Hi", "echo")
    sent = [r.json for r in server.requests_to("/audio/speech")]
    assert [(s["model"], s["voice"], s["input"]) for s in sent] == [
        ("fake-tts", "nova", "Good morning to you"), ("fake-tts", "echo", "Hi"),
    ]  # fmt: skip


def test_without_any_voice_the_models_default_voice_is_used(server):
    workspace = make_workspace()
    connect_speech(workspace, server, voices="bm_george, af_bella")
    app = speech_app(workspace, text_to_speech={"enabled": True, "voice": ""})
    assert _audio(_post(service(app_key(app)), text="hello")) == spoken("hello", "bm_george")


def test_a_message_id_speaks_the_callers_own_answer(server, app):
    message = stored_message(app, "alice", "Paris is the capital of France.")
    client = service(app_key(app))
    audio = _audio(_post(client, message_id=str(message.pk), text="ignored", user="alice"))
    assert audio == spoken("Paris is the capital of France.", "nova")  # message_id wins
    assert_dify_error(_post(client, message_id=str(message.pk), user="bob"), 404, "not_found")
    assert_dify_error(_post(client, message_id=str(message.pk)), 404, "not_found")  # DEFAULT-USER
    mine = stored_message(app, "DEFAULT-USER", "Shared answer")
    assert _audio(_post(client, message_id=str(mine.pk))) == spoken("Shared answer", "nova")
    empty = stored_message(app, "alice", "", status="error")
    body = assert_dify_error(_post(client, message_id=str(empty.pk), user="alice"), 400,
                             "invalid_param")  # fmt: skip
    assert "no answer" in body["message"]
    assert len(server.requests_to("/audio/speech")) == 2


def test_another_apps_or_workspaces_key_cannot_read_a_message(server, app):
    message = stored_message(app, "alice", "Secret answer")
    sibling = speech_app(app.workspace, **TTS_ON)
    other_workspace = make_workspace()
    connect_speech(other_workspace, server)
    stranger = speech_app(other_workspace, **TTS_ON)
    for key in (app_key(sibling), app_key(stranger)):
        response = _post(service(key), message_id=str(message.pk), user="alice")
        assert_dify_error(response, 404, "not_found")
    token = web_token_mint(app=sibling, user="alice")
    assert_dify_error(_post(service(token), message_id=str(message.pk)), 404, "not_found")
    assert server.requests_to("/audio/speech") == []


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({}, "invalid_param", 400),
        ({"text": ""}, "invalid_param", 400),
        ({"text": "   "}, "invalid_param", 400),
        ({"text": 42}, "invalid_param", 400),
        ({"text": "hi", "voice": ["nova"]}, "invalid_param", 400),
        ({"text": "hi", "streaming": "yes"}, "invalid_param", 400),
        ({"message_id": "not-a-uuid"}, "invalid_param", 400),
        ({"message_id": 7}, "invalid_param", 400),
        ({"message_id": str(uuid.uuid4())}, "not_found", 404),
        ({"text": "hi", "user": 5}, "invalid_param", 400),
    ],
)
def test_bad_input_is_a_dify_4xx(server, app, body, code, status):
    assert_dify_error(_post(service(app_key(app)), **body), status, code)
    assert server.requests == []


def test_a_body_that_is_not_an_object_is_invalid_param(app):
    client = service(app_key(app))
    response = client.post("/v1/text-to-audio", "[1]", content_type="application/json")
    assert_dify_error(response, 400, "invalid_param")
    broken = client.post("/v1/text-to-audio", "{oops", content_type="application/json")
    assert_dify_error(broken, 400, "invalid_param")


@pytest.mark.parametrize(
    ("mode", "config"),
    [("chat", {}), ("chat", {"text_to_speech": {"enabled": False, "voice": "nova"}}),
     ("advanced-chat", {}), ("workflow", {"text_to_speech": {"enabled": False}})],
)  # fmt: skip
def test_a_disabled_feature_is_refused_even_with_a_voice(server, mode, config):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, mode=mode, **config)
    body = assert_dify_error(_post(service(app_key(app)), text="hi", voice="echo"), 400,
                             "invalid_param")  # fmt: skip
    assert body["message"] == "TTS is not enabled"
    assert server.requests == []


@pytest.mark.parametrize("mode", ["advanced-chat", "workflow", "completion", "agent-chat"])
def test_every_mode_can_enable_it(server, mode):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, mode=mode, **TTS_ON)
    assert _audio(_post(service(app_key(app)), text="hello there")) == spoken("hello there", "nova")
    assert service(app_key(app)).get("/v1/parameters").json()["text_to_speech"]["voice"] == "nova"


def test_model_problems_are_dify_codes_before_any_audio(server, app):
    client = service(app_key(app))
    server.fail_next(400, "voice nova is not available")
    body = assert_dify_error(_post(client, text="hi"), 400, "completion_request_error")
    assert "voice nova is not available" in body["message"]
    default = DefaultModel.objects.get(workspace=app.workspace, model_type="tts")
    default.provider, default.model = "minilm", "all-MiniLM-L6-v2"
    default.save()
    assert_dify_error(_post(client, text="hi", voice="x"), 400, "model_currently_not_support")
    default.delete()
    assert_dify_error(_post(client, text="hi"), 400, "provider_not_initialize")


def test_keys_and_disabled_api(app):
    assert_dify_error(_post(APIClient(), text="hi"), 401, "unauthorized")
    assert_dify_error(_post(service("app-nope"), text="hi"), 401, "unauthorized")
    assert_dify_error(_post(service(dataset_key(app.workspace)), text="hi"), 401, "unauthorized")
    app.enable_api = False
    app.save()
    assert_dify_error(_post(service(app_key(app)), text="hi"), 403, "forbidden")


def test_the_chat_page_token_reads_its_own_users_messages(server, app):
    token = web_token_mint(app=app, user="web-visitor")
    message = stored_message(app, "web-visitor", "Answer for the page")
    response = _post(service(token), message_id=str(message.pk))
    assert _audio(response) == spoken("Answer for the page", "nova")
    other = stored_message(app, "alice", "Not yours")
    assert_dify_error(_post(service(token), message_id=str(other.pk)), 404, "not_found")
