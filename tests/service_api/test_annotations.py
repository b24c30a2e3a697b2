"""/v1/apps/annotations and /v1/apps/annotation-reply/{action}: shapes, scoping, bad input."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.workflows.models import Annotation, AnnotationReplyJob, AnnotationReplySetting
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, owner_of, service
from tests.service_api.annotation_support import PROVIDER, REPLY, add, annotated_app, enable

pytestmark = pytest.mark.django_db

ITEM_KEYS = {"id", "question", "answer", "hit_count", "created_at"}


@pytest.fixture
def app(fake_openai):
    return annotated_app(make_workspace(), fake_openai)


@pytest.fixture
def client(app):
    return service(app_key(app))


def test_create_answers_201_with_dify_annotation_item(app, client):
    body = add(client, "What are your hours?", "9 to 5, Monday to Friday.")
    assert set(body) == ITEM_KEYS
    assert body["question"] == "What are your hours?"
    assert body["answer"] == "9 to 5, Monday to Friday."
    assert body["hit_count"] == 0 and isinstance(body["created_at"], int)
    stored = Annotation.objects.get(pk=body["id"])
    assert stored.app == app and stored.workspace_id == app.workspace_id
    assert stored.content == body["answer"] and stored.created_by == owner_of(app.workspace)
    assert stored.embedding is None  # annotation reply is off: nothing is embedded


def test_list_pages_newest_first_and_filters_by_keyword(client):
    ids = [add(client, f"Question {i}", f"Answer {i}")["id"] for i in range(5)]
    add(client, "Where is the SHOP?", "In the high street.")
    add(client, "Opening days", "Every day except Sunday; no shop on holidays.")
    page = client.get("/v1/apps/annotations", {"page": 2, "limit": 2}).json()
    assert set(page) == {"data", "has_more", "limit", "total", "page"}
    assert page["total"] == 7 and page["page"] == 2 and page["limit"] == 2 and page["has_more"]
    assert [a["id"] for a in page["data"]] == [ids[4], ids[3]]
    assert all(set(item) == {*ITEM_KEYS} for item in page["data"])
    last = client.get("/v1/apps/annotations", {"page": 4, "limit": 2}).json()
    assert [a["id"] for a in last["data"]] == [ids[0]] and last["has_more"] is False
    default = client.get("/v1/apps/annotations").json()
    assert default["limit"] == 20 and default["page"] == 1 and len(default["data"]) == 7
    found = client.get("/v1/apps/annotations", {"keyword": "shop"}).json()
    assert found["total"] == 2  # question or answer, any case
    assert {a["question"] for a in found["data"]} == {"Where is the SHOP?", "Opening days"}
    assert client.get("/v1/apps/annotations", {"keyword": "%"}).json()["total"] == 0


def test_update_changes_both_fields_and_delete_answers_204(client):
    created = add(client, "Old question?", "Old answer.")
    path = f"/v1/apps/annotations/{created['id']}"
    updated = client.put(path, {"question": "New question?", "answer": "New."}, format="json")
    assert updated.status_code == 200
    body = updated.json()
    assert set(body) == ITEM_KEYS and body["id"] == created["id"]
    assert (body["question"], body["answer"]) == ("New question?", "New.")
    assert body["created_at"] == created["created_at"]
    deleted = client.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert not Annotation.objects.filter(pk=created["id"]).exists()
    assert_dify_error(client.delete(path), 404, "not_found")
    assert client.get("/v1/apps/annotations").json()["total"] == 0


def test_another_apps_annotations_are_not_found(app, client, fake_openai):
    created = add(client, "Mine?", "Yes.")
    sibling = make_app(app.workspace, mode="chat")  # same workspace, other app
    stranger = annotated_app(make_workspace(), fake_openai)  # other workspace
    for other in (sibling, stranger):
        other_client = service(app_key(other))
        path = f"/v1/apps/annotations/{created['id']}"
        change = {"question": "Taken?", "answer": "No."}
        assert_dify_error(other_client.put(path, change, format="json"), 404, "not_found")
        assert_dify_error(other_client.delete(path), 404, "not_found")
        assert other_client.get("/v1/apps/annotations").json()["total"] == 0
    assert Annotation.objects.get(pk=created["id"]).question == "Mine?"


def test_another_apps_job_does_not_exist(app, client, fake_openai):
    add(client, "Hours?", "Nine to five.")
    job = enable(client)
    path = f"/v1/apps/annotation-reply/enable/status/{job['job_id']}"
    assert client.get(path).json()["job_status"] == "completed"
    for other in (make_app(app.workspace), annotated_app(make_workspace(), fake_openai)):
        assert_dify_error(service(app_key(other)).get(path), 400, "invalid_param")
    disable_path = f"/v1/apps/annotation-reply/disable/status/{job['job_id']}"
    assert_dify_error(client.get(disable_path), 400, "invalid_param")  # the action is part of it


@pytest.mark.parametrize(
    "body",
    [{"answer": "A."}, {"question": "Q?"}, {"question": "  ", "answer": "A."},
     {"question": "Q?", "answer": ""}, {"question": None, "answer": "A."},
     {"question": ["Q?"], "answer": "A."}, ["Q?", "A."]],
)  # fmt: skip
def test_create_and_update_refuse_missing_or_blank_fields(client, body):
    response = client.post("/v1/apps/annotations", body, format="json")
    assert_dify_error(response, 400, "invalid_param")
    created = add(client, "Q?", "A.")
    path = f"/v1/apps/annotations/{created['id']}"
    assert_dify_error(client.put(path, body, format="json"), 400, "invalid_param")
    assert Annotation.objects.get(pk=created["id"]).content == "A."


@pytest.mark.parametrize(
    "query", [{"page": "x"}, {"page": 0}, {"limit": 0}, {"limit": 101}, {"limit": "ten"}]
)
def test_list_refuses_bad_paging(client, query):
    assert_dify_error(client.get("/v1/apps/annotations", query), 400, "invalid_param")


def test_bad_annotation_ids_are_not_found(client):
    for annotation_id in ("not-a-uuid", str(uuid.uuid4())):
        path = f"/v1/apps/annotations/{annotation_id}"
        put = client.put(path, {"question": "Q?", "answer": "A."}, format="json")
        assert_dify_error(put, 404, "not_found")
        assert_dify_error(client.delete(path), 404, "not_found")


@pytest.mark.parametrize(
    "change",
    [{"score_threshold": None}, {"score_threshold": "high"}, {"score_threshold": 1.5},
     {"score_threshold": -0.1}, {"score_threshold": True}, {"embedding_model_name": ""},
     {"embedding_provider_name": None}],
)  # fmt: skip
def test_enable_refuses_bad_settings(client, change):
    body = {**REPLY, "score_threshold": 0.8, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/v1/apps/annotation-reply/enable", body, format="json")
    assert_dify_error(response, 400, "invalid_param")
    assert not AnnotationReplyJob.objects.exists()


def test_enable_checks_the_embedding_model(client):
    def attempt(provider: str, model: str):
        body = {"embedding_provider_name": provider, "embedding_model_name": model,
                "score_threshold": 0.8}  # fmt: skip
        return client.post("/v1/apps/annotation-reply/enable", body, format="json")

    assert_dify_error(attempt("no_such_provider", "x"), 400, "provider_not_initialize")
    assert_dify_error(attempt("openai", "text-embedding-3-small"), 400, "provider_not_initialize")
    body = assert_dify_error(attempt(PROVIDER, "no-such-embed"), 400, "invalid_param")
    assert "fake-embed" in body["message"]  # the models it does offer
    assert_dify_error(attempt(PROVIDER, "fake-chat"), 400, "invalid_param")  # an LLM
    assert not AnnotationReplyJob.objects.exists() and not AnnotationReplySetting.objects.exists()
    plugin_style = attempt("langgenius/openai_api_compatible/openai_api_compatible", "fake-embed")
    assert plugin_style.status_code == 200  # Dify's plugin-era provider ids name the same one


def test_bad_actions_and_job_ids(client):
    response = client.post("/v1/apps/annotation-reply/toggle", REPLY, format="json")
    assert_dify_error(response, 400, "invalid_param")
    unknown = f"/v1/apps/annotation-reply/enable/status/{uuid.uuid4()}"
    body = assert_dify_error(client.get(unknown), 400, "invalid_param")
    assert body["message"] == "The job does not exist."
    job = client.post("/v1/apps/annotation-reply/disable", {}, format="json").json()
    bad_action = f"/v1/apps/annotation-reply/toggle/status/{job['job_id']}"
    assert_dify_error(client.get(bad_action), 400, "invalid_param")
    assert_dify_error(client.get("/v1/apps/annotation-reply/enable/status/42"), 404, "not_found")


def test_endpoints_need_an_app_key(app):
    paths = ["/v1/apps/annotations", f"/v1/apps/annotations/{uuid.uuid4()}",
             "/v1/apps/annotation-reply/enable"]  # fmt: skip
    for path in paths:
        assert_dify_error(APIClient().post(path, {}, format="json"), 401, "unauthorized")
        assert_dify_error(service("app-wrong").get(path), 401, "unauthorized")
