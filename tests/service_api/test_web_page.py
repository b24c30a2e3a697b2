"""The end-user chat page and its short-lived web token."""

from __future__ import annotations

import json
import re

import pytest
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from apps.workflows.web.auth import web_token_mint, web_token_read
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service

pytestmark = pytest.mark.django_db
CONFIG = {"opening_statement": "Hello from the bot", "suggested_questions": ["Ask me"]}


def _config(response) -> dict:
    html = response.content.decode()
    found = re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', html)
    assert found, html
    return json.loads(found.group(1))


def _web(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_chat_page_renders_with_opening_statement_and_a_token():
    app = make_app(make_workspace(), mode="chat", model_config=CONFIG, name="Helper bot")
    response = Client().get(f"/chat/{app.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Helper bot" in html and "web/chat.js" in html and "web/chat.css" in html
    config = _config(response)
    assert config["opening_statement"] == "Hello from the bot"
    assert config["suggested_questions"] == ["Ask me"]
    assert config["mode"] == "chat" and config["api_base"] == "/v1"
    assert config["token"].startswith("web-") and "app-" not in html
    passport = web_token_read(config["token"])
    assert passport is not None
    assert passport.app_id == str(app.pk) and passport.user == config["user"]


def test_the_visitor_keeps_one_end_user_id_per_app():
    workspace = make_workspace()
    app, other = make_app(workspace), make_app(workspace)
    browser = Client()
    first = _config(browser.get(f"/chat/{app.pk}/"))
    again = _config(browser.get(f"/chat/{app.pk}/"))
    assert first["user"] == again["user"]
    assert _config(browser.get(f"/chat/{other.pk}/"))["user"] != first["user"]
    assert _config(Client().get(f"/chat/{app.pk}/"))["user"] != first["user"]
    refreshed = browser.get(f"/chat/{app.pk}/token").json()
    assert refreshed["user"] == first["user"] and refreshed["token"].startswith("web-")


def test_chat_page_of_a_disabled_or_unknown_site_is_404():
    app = make_app(make_workspace(), enable_site=False)
    assert Client().get(f"/chat/{app.pk}/").status_code == 404
    assert Client().get(f"/chat/{app.pk}/token").status_code == 404
    assert Client().get("/chat/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_chat_page_of_a_workflow_app_without_workflow_still_renders():
    app = make_app(make_workspace(), mode="workflow")
    response = Client().get(f"/chat/{app.pk}/")
    assert response.status_code == 200 and _config(response)["mode"] == "workflow"


def test_static_script_is_served():
    response = Client().get("/static/web/chat.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Authorization" in body and b"localStorage" in body


def test_web_token_authenticates_for_its_own_app_only():
    workspace = make_workspace()
    app = make_app(workspace, model_config=CONFIG)
    other = make_app(workspace, model_config={"opening_statement": "other"})
    config = _config(Client().get(f"/chat/{app.pk}/"))
    client = _web(config["token"])
    body = client.get("/v1/parameters").json()
    assert body["opening_statement"] == "Hello from the bot"
    assert client.get("/v1/site").json()["title"] == app.name
    # the token names its app: a forged one for another app fails the signature
    _payload, stamp, signature = config["token"][4:].rsplit(":", 2)
    body_for_other = signing.b64_encode(
        json.dumps({"a": str(other.pk), "u": config["user"]}, separators=(",", ":")).encode()
    ).decode()
    forged = f"web-{body_for_other}:{stamp}:{signature}"
    assert_dify_error(_web(forged).get("/v1/parameters"), 401, "unauthorized")
    tampered = config["token"][:-2] + ("aa" if not config["token"].endswith("aa") else "bb")
    assert_dify_error(_web(tampered).get("/v1/parameters"), 401, "unauthorized")
    other_token = web_token_mint(app=other, user=config["user"])
    assert _web(other_token).get("/v1/parameters").json()["opening_statement"] == "other"
    # a token signed for something else is refused
    wrong_salt = "web-" + signing.dumps({"a": str(app.pk), "u": "x"}, salt="elsewhere")
    assert_dify_error(_web(wrong_salt).get("/v1/parameters"), 401, "unauthorized")


def test_web_token_is_bound_to_its_user_and_the_enabled_site(settings):
    app = make_app(make_workspace(), model_config=CONFIG)
    token = web_token_mint(app=app, user="web-abc")
    client = _web(token)
    assert client.get("/v1/parameters", {"user": "web-abc"}).status_code == 200
    assert_dify_error(client.get("/v1/parameters", {"user": "someone"}), 403, "forbidden")
    settings.WEB_TOKEN_MAX_AGE = -1
    assert_dify_error(client.get("/v1/parameters"), 401, "unauthorized")
    settings.WEB_TOKEN_MAX_AGE = 7200
    app.enable_site = False
    app.save()
    assert_dify_error(client.get("/v1/parameters"), 401, "unauthorized")


def test_app_keys_still_work_beside_web_tokens():
    app = make_app(make_workspace(), model_config=CONFIG)
    assert service(app_key(app)).get("/v1/parameters").status_code == 200
    assert_dify_error(APIClient().get("/v1/parameters"), 401, "unauthorized")


def test_web_token_uploads_and_previews_only_its_own_files(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    app = make_app(make_workspace())
    mine, theirs = web_token_mint(app=app, user="web-me"), web_token_mint(app=app, user="web-you")
    upload = _web(mine).post(
        "/v1/files/upload",
        {"file": SimpleUploadedFile("a.txt", b"hi", "text/plain"), "user": "web-me"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    url = f"/v1/files/{upload.json()['id']}/preview"
    assert _web(mine).get(url, {"user": "web-me"}).status_code == 200
    assert_dify_error(_web(theirs).get(url, {"user": "web-you"}), 403, "file_access_denied")
    assert_dify_error(_web(theirs).get(url, {"user": "web-me"}), 403, "forbidden")
