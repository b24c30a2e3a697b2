"""Conversations, message history, feedback and suggestions of the Service API."""

from __future__ import annotations

import uuid

import pytest
import requests
from dify_client import ChatClient

from apps.workflows.chat.task import background_wait
from apps.workflows.chat_services import chat_message_start
from apps.workflows.models import Conversation, EndUser, MessageFeedback
from tests.factories import app_key, assert_dify_error, make_workspace, service
from tests.service_api.chat_support import chat_app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _after_answers():
    yield
    background_wait()


def _say(app, user: str, query: str, conversation_id: str | None = None) -> dict:
    end_user, _ = EndUser.objects.get_or_create(
        workspace_id=app.workspace_id, app=app, session_id=user
    )
    task = chat_message_start(
        app=app, end_user=end_user, query=query, inputs={"name": "Ada"},
        conversation_id=conversation_id, auto_generate_name=False,
    )  # fmt: skip
    return task.blocking()


@pytest.mark.django_db(transaction=True)
def test_dify_client_manages_conversations(asgi_server, fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    key = app_key(app)
    client = ChatClient(key)
    client.base_url = asgi_server + "/v1"
    first = client.create_chat_message({"name": "Ada"}, "one", "u-1").json()
    conversation_id = first["conversation_id"]
    client.create_chat_message({}, "two", "u-1", conversation_id=conversation_id)
    background_wait()

    listed = client.get_conversations("u-1").json()
    assert listed["limit"] == 20 and listed["has_more"] is False
    (item,) = listed["data"]
    assert set(item) == {
        "id", "name", "inputs", "status", "introduction", "created_at", "updated_at",
    }  # fmt: skip
    assert item["id"] == conversation_id and item["inputs"] == {"name": "Ada", "tone": ""}
    assert item["name"] == "Hello from the fake model."  # generated after the first answer

    history = client.get_conversation_messages("u-1", conversation_id).json()
    assert [m["query"] for m in history["data"]] == ["one", "two"]
    message = history["data"][0]
    assert message["answer"] == "Hello from the fake model." and message["feedback"] is None
    assert message["status"] == "normal" and message["total_tokens"] > 0

    feedback = client.message_feedback(message["id"], "like", "u-1")
    assert feedback.json() == {"result": "success"}
    history = client.get_conversation_messages("u-1", conversation_id).json()
    assert history["data"][0]["feedback"] == {"rating": "like"}

    renamed = client.rename_conversation(conversation_id, "Trip plans", "u-1").json()
    assert renamed["name"] == "Trip plans" and renamed["id"] == conversation_id

    headers = {"Authorization": f"Bearer {key}"}
    fake_openai.reply_text = 'Sure: ["Why?", "How far?", "When?"]'
    suggested = requests.get(
        f"{asgi_server}/v1/messages/{message['id']}/suggested",
        params={"user": "u-1"}, headers=headers,
    )  # fmt: skip
    assert suggested.json() == {"result": "success", "data": ["Why?", "How far?", "When?"]}

    deleted = requests.delete(
        f"{asgi_server}/v1/conversations/{conversation_id}", json={"user": "u-1"}, headers=headers
    )
    assert deleted.status_code == 204
    assert client.get_conversations("u-1").json()["data"] == []
    gone = client.get_conversation_messages("u-1", conversation_id)
    assert gone.status_code == 404 and gone.json()["message"] == "Conversation Not Exists."


def test_messages_page_backwards_with_first_id(fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    conversation_id = _say(app, "u", "q0")["conversation_id"]
    for i in range(1, 5):
        _say(app, "u", f"q{i}", conversation_id)
    client = service(app_key(app))
    page = client.get(
        "/v1/messages", {"user": "u", "conversation_id": conversation_id, "limit": 2}
    ).json()
    assert [m["query"] for m in page["data"]] == ["q3", "q4"] and page["has_more"] is True
    older = client.get(
        "/v1/messages",
        {"user": "u", "conversation_id": conversation_id, "limit": 2,
         "first_id": page["data"][0]["id"]},
    ).json()  # fmt: skip
    assert [m["query"] for m in older["data"]] == ["q1", "q2"] and older["has_more"] is True
    last = client.get(
        "/v1/messages",
        {"user": "u", "conversation_id": conversation_id, "first_id": older["data"][0]["id"]},
    ).json()
    assert [m["query"] for m in last["data"]] == ["q0"] and last["has_more"] is False


def test_conversations_page_with_last_id_and_sort(fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    ids = [_say(app, "u", f"c{i}")["conversation_id"] for i in range(3)]
    client = service(app_key(app))
    page = client.get("/v1/conversations", {"user": "u", "limit": 2}).json()
    assert [c["id"] for c in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    rest = client.get(
        "/v1/conversations", {"user": "u", "limit": 2, "last_id": page["data"][-1]["id"]}
    ).json()
    assert [c["id"] for c in rest["data"]] == [ids[0]] and rest["has_more"] is False
    oldest = client.get("/v1/conversations", {"user": "u", "sort_by": "created_at"}).json()
    assert [c["id"] for c in oldest["data"]] == ids
    bad = client.get("/v1/conversations", {"user": "u", "sort_by": "name"})
    assert_dify_error(bad, 400, "invalid_param")
    missing = client.get("/v1/conversations", {"user": "u", "last_id": str(uuid.uuid4())})
    assert_dify_error(missing, 404, "not_found")


def test_feedback_can_be_removed_and_listed_for_the_app(fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    message_id = _say(app, "u", "hi")["id"]
    client = service(app_key(app))
    url = f"/v1/messages/{message_id}/feedbacks"
    body = {"rating": "dislike", "user": "u", "content": "too short"}
    assert client.post(url, body, format="json").json() == {"result": "success"}
    listed = client.get("/v1/app/feedbacks").json()["data"]
    assert [(f["rating"], f["content"], f["message_id"]) for f in listed] == [
        ("dislike", "too short", message_id)
    ]
    assert client.post(url, {"rating": None, "user": "u"}, format="json").status_code == 200
    assert MessageFeedback.objects.count() == 0
    again = client.post(url, {"rating": None, "user": "u"}, format="json")
    assert_dify_error(again, 400, "invalid_param")
    assert_dify_error(client.post(url, {"rating": "meh", "user": "u"}, format="json"),
                      400, "invalid_param")  # fmt: skip


def test_rename_with_auto_generate_asks_the_model(fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    conversation_id = _say(app, "u", "Plan a trip to Rome")["conversation_id"]
    fake_openai.reply_text = '"Rome trip planning"'
    client = service(app_key(app))
    url = f"/v1/conversations/{conversation_id}/name"
    renamed = client.post(url, {"auto_generate": True, "user": "u"}, format="json").json()
    assert renamed["name"] == "Rome trip planning"
    assert_dify_error(client.post(url, {"user": "u"}, format="json"), 400, "invalid_param")
    fake_openai.fail_next(500, times=5)
    fallback = client.post(url, {"auto_generate": True, "user": "u"}, format="json").json()
    assert fallback["name"] == "Plan a trip to Rome"[:20]


def test_suggested_questions_need_the_feature(fake_openai):
    app = chat_app(
        make_workspace(), fake_openai, suggested_questions_after_answer={"enabled": False}
    )
    message_id = _say(app, "u", "hi")["id"]
    client = service(app_key(app))
    answer = client.get(f"/v1/messages/{message_id}/suggested", {"user": "u"})
    body = assert_dify_error(answer, 400, "bad_request")
    assert body["message"] == "Suggested Questions Is Disabled."
    unknown = client.get(f"/v1/messages/{uuid.uuid4()}/suggested", {"user": "u"})
    assert_dify_error(unknown, 404, "not_found")


def test_another_user_or_app_sees_nothing(fake_openai):
    workspace = make_workspace()
    app = chat_app(workspace, fake_openai)
    other_app = chat_app(make_workspace(), fake_openai)
    first = _say(app, "u", "secret")
    conversation_id, message_id = first["conversation_id"], first["id"]
    for client, user in ((service(app_key(app)), "stranger"), (service(app_key(other_app)), "u")):
        assert client.get("/v1/conversations", {"user": user}).json()["data"] == []
        missing = client.get("/v1/messages", {"user": user, "conversation_id": conversation_id})
        body = assert_dify_error(missing, 404, "not_found")
        assert body["message"] == "Conversation Not Exists."
        chat = client.post(
            "/v1/chat-messages",
            {"query": "hi", "inputs": {"name": "x"}, "user": user,
             "conversation_id": conversation_id},
            format="json",
        )  # fmt: skip
        assert_dify_error(chat, 404, "not_found")
        for call in (
            client.post(f"/v1/messages/{message_id}/feedbacks", {"rating": "like", "user": user},
                        format="json"),
            client.get(f"/v1/messages/{message_id}/suggested", {"user": user}),
            client.delete(f"/v1/conversations/{conversation_id}", {"user": user}, format="json"),
            client.post(f"/v1/conversations/{conversation_id}/name", {"name": "x", "user": user},
                        format="json"),
        ):  # fmt: skip
            assert_dify_error(call, 404, "not_found")
        assert client.get("/v1/app/feedbacks").json()["data"] == [] or user == "stranger"
    assert Conversation.objects.get(pk=conversation_id).is_deleted is False
    assert MessageFeedback.objects.count() == 0


def test_history_and_list_queries_do_not_grow_with_the_page(
    fake_openai, django_assert_max_num_queries
):
    app = chat_app(make_workspace(), fake_openai)
    conversation_id = _say(app, "u", "q0")["conversation_id"]
    for i in range(1, 6):
        _say(app, "u", f"q{i}", conversation_id)
    client = service(app_key(app))
    with django_assert_max_num_queries(8):
        page = client.get("/v1/messages", {"user": "u", "conversation_id": conversation_id})
    assert len(page.json()["data"]) == 6
    with django_assert_max_num_queries(6):
        assert len(client.get("/v1/conversations", {"user": "u"}).json()["data"]) == 1


def test_app_feedbacks_list_only_the_apps_own(fake_openai):
    """Feedback given in one app is listed by that app's key and by no other's (another
    app of the same workspace, or another workspace's)."""
    workspace = make_workspace()
    app = chat_app(workspace, fake_openai)
    message_id = _say(app, "u", "hi")["id"]
    client = service(app_key(app))
    body = {"rating": "like", "user": "u", "content": "good"}
    assert (
        client.post(f"/v1/messages/{message_id}/feedbacks", body, format="json").status_code == 200
    )
    assert [f["message_id"] for f in client.get("/v1/app/feedbacks").json()["data"]] == [message_id]
    neighbour = chat_app(workspace, fake_openai)
    stranger = chat_app(make_workspace(), fake_openai)
    for other in (neighbour, stranger):
        listed = service(app_key(other)).get("/v1/app/feedbacks")
        assert listed.status_code == 200 and listed.json()["data"] == []
