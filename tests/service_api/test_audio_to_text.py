"""POST /v1/audio-to-text: Dify's checks and codes, the default model, tenants, auth."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.providers.models import DefaultModel
from apps.workflows.audio_services import audio_size_limit
from apps.workflows.models import EndUser
from apps.workflows.web.auth import web_token_mint
from tests.factories import app_key, assert_dify_error, dataset_key, make_workspace, service
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer
from tests.service_api.audio_support import STT_ON, connect_speech, speech_app, transcript

pytestmark = pytest.mark.django_db
AUDIO = os.urandom(3000) + b"\r\n--not-a-boundary\r\n" + os.urandom(500)


@pytest.fixture
def server():
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS) as fake:
        yield fake


@pytest.fixture
def app(server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    return speech_app(workspace, **STT_ON)


def _post(client, name="memo.mp3", data=AUDIO, mime="audio/mp3", user="alice"):
    form = {} if name is None else {"file": SimpleUploadedFile(name, data, content_type=mime)}
    if user is not None:
        form["user"] = user
    return client.post("/v1/audio-to-text", form, format="multipart")


def test_the_recording_is_transcribed_by_the_default_model(server, app):
    response = _post(service(app_key(app)))
    assert response.status_code == 200, response.json()
    assert response.json() == {"text": transcript("memo.mp3", AUDIO)}
    sent = server.requests_to("/audio/transcriptions")[-1]
    assert sent.json["model"] == "fake-whisper"
    assert (sent.files["file"].filename, sent.files["file"].data) == ("memo.mp3", AUDIO)
    assert sent.files["file"].content_type == "audio/mp3"
    assert EndUser.objects.filter(app=app, session_id="alice").exists()
    assert _post(service(app_key(app)), user=None).status_code == 200  # DEFAULT-USER


@pytest.mark.parametrize(
    ("name", "mime", "sent_as"),
    [
        ("a.m4a", "audio/x-m4a", ("a.m4a", "audio/x-m4a")),
        ("a.mp3", "audio/mpeg", ("a.mp3", "audio/mpeg")),
        ("rec.wav", "application/octet-stream", ("rec.wav", "audio/wav")),
        ("blob", "audio/webm", ("audio.webm", "audio/webm")),
        ("A.AMR", "AUDIO/AMR", ("A.AMR", "audio/amr")),
    ],
)
def test_audio_types_are_read_from_the_part_then_the_name(server, app, name, mime, sent_as):
    response = _post(service(app_key(app)), name=name, mime=mime)
    assert response.status_code == 200, response.json()
    part = server.requests_to("/audio/transcriptions")[-1].files["file"]
    assert (part.filename, part.content_type) == sent_as
    assert response.json()["text"] == transcript(sent_as[0], AUDIO)


@pytest.mark.parametrize(
    ("name", "mime"),
    [("notes.txt", "text/plain"), ("clip.mp4", "video/mp4"), ("x.flac", "audio/flac"),
     ("noext", "application/octet-stream"), ("song.ogg", "")],
)  # fmt: skip
def test_other_types_are_415(server, app, name, mime):
    assert_dify_error(_post(service(app_key(app)), name=name, mime=mime), 415,
                      "unsupported_audio_type")  # fmt: skip
    assert server.requests == []


def test_missing_empty_and_too_large_recordings(server, app, settings):
    client = service(app_key(app))
    assert_dify_error(_post(client, name=None), 400, "no_audio_uploaded")
    json_body = client.post("/v1/audio-to-text", {"user": "alice"}, format="json")
    assert_dify_error(json_body, 400, "no_audio_uploaded")
    assert_dify_error(_post(client, data=b""), 400, "no_audio_uploaded")
    assert audio_size_limit() == 30 * 1024 * 1024  # Dify's limit
    settings.AUDIO_TO_TEXT_FILE_SIZE_LIMIT = 1
    body = assert_dify_error(_post(client, data=b"\0" * (1024 * 1024 + 1)), 413, "audio_too_large")
    assert body["message"] == "Audio size larger than 1 mb"
    assert _post(client, data=b"\0" * (1024 * 1024)).status_code == 200  # the limit itself
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("mode", "config"),
    [("chat", {}), ("chat", {"speech_to_text": {"enabled": False}}),
     ("completion", {"speech_to_text": "yes"}), ("advanced-chat", {}),
     ("workflow", {"speech_to_text": {"enabled": False}})],
)  # fmt: skip
def test_a_disabled_feature_is_speech_to_text_disabled(server, mode, config):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, mode=mode, **config)
    assert_dify_error(_post(service(app_key(app))), 400, "speech_to_text_disabled")
    assert_dify_error(_post(service(app_key(app)), name=None), 400, "speech_to_text_disabled")
    assert server.requests == []


@pytest.mark.parametrize("mode", ["advanced-chat", "workflow", "agent-chat", "completion"])
def test_every_mode_can_enable_it(server, mode):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, mode=mode, **STT_ON)
    response = _post(service(app_key(app)))
    assert response.status_code == 200 and response.json()["text"] == transcript("memo.mp3", AUDIO)
    parameters = service(app_key(app)).get("/v1/parameters").json()
    assert parameters["speech_to_text"] == {"enabled": True}  # /parameters agrees


def test_graph_app_without_a_workflow_is_app_unavailable():
    from tests.factories import make_app

    app = make_app(make_workspace(), mode="advanced-chat")
    assert_dify_error(_post(service(app_key(app))), 400, "app_unavailable")


def test_model_problems_are_dify_codes(server, app):
    client = service(app_key(app))
    server.fail_next(500, "whisper crashed", times=2)  # the first try and its one retry
    body = assert_dify_error(_post(client), 400, "completion_request_error")
    assert "whisper crashed" in body["message"]
    server.fail_next(401, "Incorrect API key provided: sk-test-key")
    body = assert_dify_error(_post(client), 400, "completion_request_error")
    assert "Incorrect API key" in body["message"] and "sk-test-key" not in body["message"]
    assert len(server.requests) == 3
    default = DefaultModel.objects.get(workspace=app.workspace, model_type="speech2text")
    default.provider, default.model = "minilm", "all-MiniLM-L6-v2"  # a provider with no ASR
    default.save()
    assert_dify_error(_post(client), 400, "provider_not_support_speech_to_text")
    default.delete()
    assert_dify_error(_post(client), 400, "provider_not_initialize")


def test_another_workspace_uses_its_own_model_and_settings(server, app):
    other = make_workspace()
    stranger = speech_app(other, **STT_ON)
    assert_dify_error(_post(service(app_key(stranger))), 400, "provider_not_initialize")
    with FakeOpenAIServer(models=AUDIO_MODELS, api_key="sk-other-key") as theirs:
        connect_speech(other, theirs)
        assert _post(service(app_key(stranger))).status_code == 200
        assert len(theirs.requests) == 1
    assert server.requests == []  # nothing went to the first workspace's model
    sibling = speech_app(app.workspace)  # same workspace, feature off
    assert_dify_error(_post(service(app_key(sibling))), 400, "speech_to_text_disabled")


def test_keys_and_disabled_api(app):
    assert_dify_error(_post(APIClient()), 401, "unauthorized")
    assert_dify_error(_post(service("app-wrong")), 401, "unauthorized")
    assert_dify_error(_post(service(dataset_key(app.workspace))), 401, "unauthorized")
    app.enable_api = False
    app.save()
    assert_dify_error(_post(service(app_key(app))), 403, "forbidden")


def test_the_chat_page_token_works_for_its_own_user(server, app):
    token = web_token_mint(app=app, user="web-visitor")
    response = _post(service(token), user=None)
    assert response.status_code == 200, response.json()
    assert EndUser.objects.filter(app=app, session_id="web-visitor").exists()
    assert_dify_error(_post(service(token), user="alice"), 403, "forbidden")  # not its user
    other = speech_app(app.workspace)  # feature off there: the token acts on its own app
    foreign = web_token_mint(app=other, user="web-visitor")
    assert_dify_error(_post(service(foreign), user=None), 400, "speech_to_text_disabled")
    assert not EndUser.objects.filter(app=app, session_id="alice").exists()
