"""Key, disabled-API and ``user`` checks of the routes the per-feature suites check only in
part: every route here answers Dify's 401 without a key or with a wrong one, and 403 once
the app's API access is off, before it looks at anything else."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.workflows.models import App
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service
from tests.service_api.workflow_helpers import GREETER_INPUTS, greeter_app

pytestmark = pytest.mark.django_db
UNKNOWN = str(uuid.uuid4())

# (method, path, body, app mode)
GUARDED = [
    ("get", f"/v1/files/{UNKNOWN}/preview", None, "chat"),
    ("get", f"/v1/conversations/{UNKNOWN}/variables?user=u", None, "chat"),
    ("put", f"/v1/conversations/{UNKNOWN}/variables/{UNKNOWN}", {"value": "x", "user": "u"},
     "chat"),
    ("post", f"/v1/workflows/{UNKNOWN}/run", {"inputs": {}, "user": "u"}, "workflow"),
    ("get", "/v1/apps/annotations", None, "chat"),
    ("post", "/v1/apps/annotations", {"question": "q", "answer": "a"}, "chat"),
    ("put", f"/v1/apps/annotations/{UNKNOWN}", {"question": "q", "answer": "a"}, "chat"),
    ("delete", f"/v1/apps/annotations/{UNKNOWN}", None, "chat"),
    ("post", "/v1/apps/annotation-reply/enable", {"score_threshold": 0.9}, "chat"),
    ("get", f"/v1/apps/annotation-reply/enable/status/{UNKNOWN}", None, "chat"),
]  # fmt: skip


def _call(client: APIClient, method: str, path: str, body: dict | None):
    request = getattr(client, method)
    return request(path, body, format="json") if body is not None else request(path)


@pytest.mark.parametrize(("method", "path", "body", "mode"), GUARDED)
def test_no_key_or_a_wrong_key_is_401_and_disabled_api_is_403(method, path, body, mode):
    app = make_app(make_workspace(), mode=mode)
    assert_dify_error(_call(APIClient(), method, path, body), 401, "unauthorized")
    assert_dify_error(_call(service("app-wrong"), method, path, body), 401, "unauthorized")
    key = app_key(app)
    App.objects.filter(pk=app.pk).update(enable_api=False)
    assert_dify_error(_call(service(key), method, path, body), 403, "forbidden")


@pytest.mark.parametrize("latest", [True, False])
def test_workflow_runs_need_a_user(latest):
    app = greeter_app(make_workspace())
    path = "/v1/workflows/run" if latest else f"/v1/workflows/{app.published_workflow_id}/run"
    client = service(app_key(app))
    for body in ({"inputs": GREETER_INPUTS}, {"inputs": GREETER_INPUTS, "user": ""},
                 {"inputs": GREETER_INPUTS, "user": 7}):  # fmt: skip
        assert_dify_error(client.post(path, body, format="json"), 400, "invalid_param")
    assert (
        client.post(path, {"inputs": GREETER_INPUTS, "user": "u"}, format="json").status_code == 200
    )


def test_updating_a_variable_of_an_unknown_conversation_is_404():
    app = make_app(make_workspace(), mode="advanced-chat")
    client = service(app_key(app))
    response = client.put(
        f"/v1/conversations/{UNKNOWN}/variables/{UNKNOWN}", {"value": "x", "user": "u"},
        format="json",
    )  # fmt: skip
    assert_dify_error(response, 404, "not_found")
