"""Files sent with chat and completion messages: the app's file_upload settings, images to
the model (vision), and the files kept with the message."""

from __future__ import annotations

import base64

import pytest
import requests

from apps.workflows.chat.task import background_wait
from apps.workflows.models import Message, UploadFile
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import chat_app

pytestmark = pytest.mark.django_db(transaction=True)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
LEGACY_UPLOAD = {"image": {"enabled": True, "number_limits": 2, "detail": "low",
                           "transfer_methods": ["local_file", "remote_url"]}}  # fmt: skip
REMOTE = {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/cat.png"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text="A small picture.") as server:
        yield server


def _upload(base: str, key: str, name: str = "dot.png", content: bytes = PNG) -> str:
    response = requests.post(
        f"{base}/v1/files/upload", files={"file": (name, content, "image/png")},
        data={"user": "u"}, headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return str(response.json()["id"])


def _chat(base: str, key: str, files: list, path: str = "/v1/chat-messages", **body):
    return requests.post(
        base + path,
        json={"inputs": {"name": "Ada"}, "query": "what is this?", "user": "u", "files": files,
              **body},
        headers={"Authorization": f"Bearer {key}"}, timeout=20,
    )  # fmt: skip


def _last_user_content(server: FakeOpenAIServer):
    calls = [r for r in server.requests_to("/v1/chat/completions") if r.json.get("stream")]
    return calls[-1].json["messages"][-1]["content"]


def test_images_reach_the_model_inline_and_by_url(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server, file_upload=LEGACY_UPLOAD)
    key = app_key(app)
    upload_id = _upload(asgi_server, key)
    local = {"type": "image", "transfer_method": "local_file", "upload_file_id": upload_id}
    response = _chat(asgi_server, key, [local, REMOTE], response_mode="streaming")
    assert response.status_code == 200
    assert response.content  # read to the end of the stream
    content = _last_user_content(model_server)
    assert content[0] == {"type": "text", "text": "what is this?"}
    inline = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    assert content[1] == {"type": "image_url", "image_url": {"url": inline, "detail": "low"}}
    assert content[2]["image_url"] == {"url": REMOTE["url"], "detail": "low"}
    message = Message.objects.get(app=app)
    listed = requests.get(
        f"{asgi_server}/v1/messages",
        params={"user": "u", "conversation_id": str(message.conversation_id)},
        headers={"Authorization": f"Bearer {key}"}, timeout=10,
    ).json()["data"][0]["message_files"]  # fmt: skip
    assert [f["upload_file_id"] for f in listed] == [upload_id, None]
    assert [f["transfer_method"] for f in listed] == ["local_file", "remote_url"]
    background_wait()


def test_completion_apps_take_images_too(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server, mode="completion", file_upload=LEGACY_UPLOAD)
    body = _chat(asgi_server, app_key(app), [REMOTE], path="/v1/completion-messages").json()
    assert body["answer"] == "A small picture."
    calls = model_server.requests_to("/v1/chat/completions")
    assert calls[-1].json["messages"][-1]["content"][-1]["type"] == "image_url"


def test_files_are_ignored_when_the_app_takes_none(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server)
    body = _chat(asgi_server, app_key(app), [REMOTE], response_mode="streaming")
    assert body.content
    assert _last_user_content(model_server) == "what is this?"
    assert Message.objects.get(app=app).files == []
    background_wait()


@pytest.mark.parametrize(
    ("upload", "files", "fragment"),
    [
        (LEGACY_UPLOAD, [REMOTE, REMOTE, REMOTE], "at most 2 files"),
        (LEGACY_UPLOAD, [{**REMOTE, "type": "document"}], "type 'document' is not allowed"),
        ({"enabled": True, "allowed_file_types": ["image"], "number_limits": 3,
          "allowed_file_upload_methods": ["local_file"]}, [REMOTE],
         "transfer_method 'remote_url' is not allowed"),
    ],
)  # fmt: skip
def test_files_the_settings_refuse_are_a_400(asgi_server, model_server, upload, files, fragment):
    app = chat_app(make_workspace(), model_server, file_upload=upload)
    response = _chat(asgi_server, app_key(app), files)
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"
    assert fragment in response.json()["message"]
    assert not Message.objects.filter(app=app).exists()


def test_another_users_upload_cannot_be_sent(asgi_server, model_server):
    workspace = make_workspace()
    app = chat_app(workspace, model_server, file_upload=LEGACY_UPLOAD)
    other = chat_app(workspace, model_server, file_upload=LEGACY_UPLOAD)
    theirs = _upload(asgi_server, app_key(other))
    local = {"type": "image", "transfer_method": "local_file", "upload_file_id": theirs}
    response = _chat(asgi_server, app_key(app), [local])
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def _turn_messages(server: FakeOpenAIServer) -> list:
    calls = [r for r in server.requests_to("/v1/chat/completions") if r.json.get("stream")]
    return calls[-1].json["messages"]


def test_images_of_earlier_turns_go_to_the_model_again(asgi_server, model_server):
    """As Dify's memory: the next turn resends the conversation's images with their query
    (the app's detail here); an upload that is gone is left out, the rest still goes."""
    app = chat_app(make_workspace(), model_server, file_upload=LEGACY_UPLOAD)
    key = app_key(app)
    upload_id = _upload(asgi_server, key)
    local = {"type": "image", "transfer_method": "local_file", "upload_file_id": upload_id}
    first = _chat(asgi_server, key, [local, REMOTE]).json()
    second = _chat(asgi_server, key, [], query="and now?", conversation_id=first["conversation_id"])
    assert second.status_code == 200, second.text
    system, asked, answered, now = _turn_messages(model_server)
    assert system["role"] == "system" and answered == {
        "role": "assistant",
        "content": "A small picture.",
    }
    inline = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    assert asked == {"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": inline, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": REMOTE["url"], "detail": "low"}},
    ]}  # fmt: skip
    assert now == {"role": "user", "content": "and now?"}

    UploadFile.objects.filter(pk=upload_id).delete()
    third = _chat(asgi_server, key, [], query="still?", conversation_id=first["conversation_id"])
    assert third.status_code == 200, third.text
    asked = _turn_messages(model_server)[1]["content"]
    assert [part["type"] for part in asked] == ["text", "image_url"]
    assert asked[1]["image_url"]["url"] == REMOTE["url"]
    background_wait()


def test_earlier_images_default_to_low_detail_and_stop_when_uploads_are_off(
    asgi_server, model_server
):
    upload = {"enabled": True, "allowed_file_types": ["image"], "number_limits": 3,
              "allowed_file_upload_methods": ["remote_url"]}  # fmt: skip
    app = chat_app(make_workspace(), model_server, file_upload=upload)
    key = app_key(app)
    first = _chat(asgi_server, key, [REMOTE]).json()
    assert _last_user_content(model_server)[1]["image_url"]["detail"] == "high"  # this turn
    _chat(asgi_server, key, [], query="again", conversation_id=first["conversation_id"])
    assert _turn_messages(model_server)[1]["content"][1]["image_url"]["detail"] == "low"

    app.model_config = {**app.model_config, "file_upload": {"enabled": False}}
    app.save(update_fields=["model_config"])
    _chat(asgi_server, key, [], query="once more", conversation_id=first["conversation_id"])
    history = _turn_messages(model_server)
    assert history[1] == {"role": "user", "content": "what is this?"}
    background_wait()
