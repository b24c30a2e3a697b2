"""POST /v1/files/upload, GET /v1/files/{id}/preview, the `files` field and the FileReader."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.errors import AppError, InvalidParam
from apps.workflows.engine.errors import NodeError
from apps.workflows.file_services import UploadFileReader, file_upload, files_from_request
from apps.workflows.models import EndUser, UploadFile
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _upload(client, name="notes.txt", content=b"hello world", user="alice", mime="text/plain"):
    data = {"file": SimpleUploadedFile(name, content, content_type=mime)}
    if user is not None:
        data["user"] = user
    return client.post("/v1/files/upload", data, format="multipart")


def test_upload_stores_the_file_and_answers_dify_fields():
    app = make_app(make_workspace())
    response = _upload(service(app_key(app)))
    body = response.json()
    assert response.status_code == 201, body
    assert body["name"] == "notes.txt" and body["size"] == 11
    assert body["extension"] == "txt" and body["mime_type"] == "text/plain"
    assert isinstance(body["created_at"], int)
    end_user = EndUser.objects.get(app=app, session_id="alice")
    assert body["created_by"] == str(end_user.pk)
    record = UploadFile.objects.get(pk=body["id"])
    assert record.app == app and record.end_user == end_user and len(record.sha256) == 64
    with record.file.open("rb") as handle:
        assert handle.read() == b"hello world"


def test_preview_returns_the_bytes_to_the_uploader_only():
    workspace = make_workspace()
    app = make_app(workspace)
    client = service(app_key(app))
    file_id = _upload(client, "pic.png", b"\x89PNG fake", mime="image/png").json()["id"]
    url = f"/v1/files/{file_id}/preview"
    response = client.get(url, {"user": "alice"})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"
    attachment = client.get(url, {"user": "alice", "as_attachment": "true"})
    assert attachment["Content-Disposition"].startswith("attachment")
    assert_dify_error(client.get(url, {"user": "bob"}), 403, "file_access_denied")
    assert_dify_error(client.get(url), 403, "file_access_denied")  # DEFAULT-USER's view
    sibling = service(app_key(make_app(workspace)))
    assert_dify_error(sibling.get(url, {"user": "alice"}), 403, "file_access_denied")
    stranger = service(app_key(make_app(make_workspace())))
    assert_dify_error(stranger.get(url, {"user": "alice"}), 404, "file_not_found")
    unknown = "/v1/files/00000000-0000-4000-8000-000000000000/preview"
    assert_dify_error(client.get(unknown, {"user": "alice"}), 404, "file_not_found")
    assert_dify_error(client.get("/v1/files/nope/preview", {"user": "alice"}), 404,
                      "file_not_found")  # fmt: skip


def test_upload_refusals_use_dify_codes(settings):
    client = service(app_key(make_app(make_workspace())))
    assert_dify_error(_upload(client, "tool.exe"), 415, "unsupported_file_type")
    assert_dify_error(_upload(client, "README"), 415, "unsupported_file_type")
    assert _upload(client, user=None).status_code == 201  # stored for DEFAULT-USER
    no_file = client.post("/v1/files/upload", {"user": "alice"}, format="multipart")
    assert_dify_error(no_file, 400, "no_file_uploaded")
    two = {
        "file": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")],
        "user": "alice",
    }
    assert_dify_error(client.post("/v1/files/upload", two, format="multipart"), 400,
                      "too_many_files")  # fmt: skip
    settings.UPLOAD_FILE_SIZE_LIMIT = 0
    assert_dify_error(_upload(client), 413, "file_too_large")
    settings.UPLOAD_IMAGE_FILE_SIZE_LIMIT = 0
    assert_dify_error(_upload(client, "p.png", b"x", mime="image/png"), 413, "file_too_large")


def test_upload_needs_a_valid_key():
    from rest_framework.test import APIClient

    assert_dify_error(_upload(APIClient()), 401, "unauthorized")
    assert_dify_error(_upload(service("app-wrong")), 401, "unauthorized")
    app = make_app(make_workspace(), enable_api=False)
    assert_dify_error(_upload(service(app_key(app))), 403, "forbidden")


def test_a_file_without_a_name_is_refused():
    app = make_app(make_workspace())
    end_user = EndUser.objects.create(workspace=app.workspace, app=app, session_id="u")
    uploaded = SimpleUploadedFile("x.txt", b"x")
    uploaded._name = ""  # what a part with an empty filename would give
    with pytest.raises(AppError) as caught:
        file_upload(app=app, end_user=end_user, uploaded=uploaded)
    assert caught.value.code == "filename_not_exists_error"


def test_upload_works_with_the_dify_client(asgi_server):
    from dify_client import DifyClient

    app = make_app(make_workspace())
    client = DifyClient(app_key(app))
    client.base_url = f"{asgi_server}/v1"
    files = {"file": ("report.md", io.BytesIO(b"# Title"), "text/markdown")}
    response = client.file_upload("someone", files)
    assert response.status_code == 201, response.text
    assert response.json()["extension"] == "md"


# --- the `files` field and the engine's FileReader ---------------------------------------
def _stored(app, user="alice", name="doc.txt", content=b"file text"):
    end_user, _ = EndUser.objects.get_or_create(workspace=app.workspace, app=app, session_id=user)
    record = file_upload(
        app=app, end_user=end_user, uploaded=SimpleUploadedFile(name, content, "text/plain")
    )
    return end_user, record


def test_files_field_becomes_engine_file_dicts():
    app = make_app(make_workspace())
    end_user, record = _stored(app)
    files = files_from_request(app=app, end_user=end_user, files_field=[
        {"type": "document", "transfer_method": "local_file", "upload_file_id": str(record.pk)},
        {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/a/cat.png"},
    ])  # fmt: skip
    local, remote = files
    assert local["dify_model_identity"] == "__dify__file__"
    assert local["upload_file_id"] == local["related_id"] == str(record.pk)
    assert local["filename"] == "doc.txt" and local["extension"] == ".txt"
    assert local["size"] == 9 and local["mime_type"] == "text/plain"
    assert remote["remote_url"] == remote["url"] == "https://example.com/a/cat.png"
    assert remote["filename"] == "cat.png" and remote["mime_type"] == "image/png"
    assert files_from_request(app=app, end_user=end_user, files_field=None) == []


@pytest.mark.parametrize(
    "field",
    [
        "nope",
        [{"type": "document", "transfer_method": "local_file", "upload_file_id": "x"}],
        [{"type": "zip", "transfer_method": "local_file", "upload_file_id": "x"}],
        [{"type": "image", "transfer_method": "remote_url", "url": "file:///etc/passwd"}],
        [{"type": "image", "transfer_method": "tool_file"}],
    ],
)
def test_bad_files_field_is_invalid_param(field):
    app = make_app(make_workspace())
    end_user, _ = _stored(app)
    with pytest.raises(InvalidParam):
        files_from_request(app=app, end_user=end_user, files_field=field)


def test_files_field_refuses_another_users_or_apps_upload_and_wrong_type():
    workspace = make_workspace()
    app = make_app(workspace)
    _, theirs = _stored(app, user="bob")
    alice, mine = _stored(app, user="alice")
    other_app = make_app(workspace)
    other_user, _ = _stored(other_app, user="alice")

    def item(record, kind="document"):
        return [{"type": kind, "transfer_method": "local_file", "upload_file_id": str(record.pk)}]

    for end_user, field in [(alice, item(theirs)), (other_user, item(mine)),
                            (alice, item(mine, "image"))]:  # fmt: skip
        with pytest.raises(InvalidParam):
            files_from_request(app=end_user.app, end_user=end_user, files_field=field)
    custom = files_from_request(app=app, end_user=alice, files_field=item(mine, "custom"))
    assert custom[0]["type"] == "custom"


def test_upload_file_reader_reads_within_its_workspace_only():
    app = make_app(make_workspace())
    end_user, record = _stored(app)
    file = files_from_request(app=app, end_user=end_user, files_field=[
        {"type": "document", "transfer_method": "local_file", "upload_file_id": str(record.pk)}
    ])[0]  # fmt: skip
    assert UploadFileReader(app.workspace).read(file) == b"file text"
    with pytest.raises(NodeError):
        UploadFileReader(make_workspace()).read(file)
    tool_file = {"transfer_method": "tool_file", "content_base64": base64.b64encode(b"hi").decode()}
    assert UploadFileReader(app.workspace).read(tool_file) == b"hi"
    with pytest.raises(NodeError, match="not allowed"):
        UploadFileReader(app.workspace).read(
            {"transfer_method": "remote_url", "remote_url": "http://127.0.0.1:9/x.txt"}
        )
    with pytest.raises(NodeError):
        UploadFileReader(app.workspace).read({"transfer_method": "local_file"})
