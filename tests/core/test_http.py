import pytest
from rest_framework.test import APIClient

from tests.factories import assert_dify_error

pytestmark = pytest.mark.django_db


def test_health_reports_ok_with_database():
    response = APIClient().get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"
    assert response["X-Request-Id"]


def test_request_id_is_echoed_when_sane():
    response = APIClient().get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-Id"] == "abc-123"
    response = APIClient().get("/health", HTTP_X_REQUEST_ID="bad id\n")
    assert response["X-Request-Id"] != "bad id\n"


def test_unknown_url_is_a_json_404():
    assert_dify_error(APIClient().get("/nope"), 404, "not_found")


def test_openapi_schema_and_swagger_are_served():
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/v1/info" in schema.json()["paths"]
    assert client.get("/api/docs/").status_code == 200


def test_unexpected_errors_are_500_without_internals(monkeypatch):
    from apps.workflows.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.ServiceAppInfoView, "get", boom)
    from tests.factories import app_key, make_app, make_workspace, service

    client = service(app_key(make_app(make_workspace())))
    client.raise_request_exception = False
    response = client.get("/v1/info")
    body = assert_dify_error(response, 500, "internal_server_error")
    assert "secret" not in body["message"]


def test_health_answers_probes_whatever_their_host_header(settings):
    settings.ALLOWED_HOSTS = ["dify.example.com"]
    assert APIClient().get("/health", HTTP_HOST="10.8.0.7:8000").status_code == 200
    assert APIClient().get("/admin/login/", HTTP_HOST="10.8.0.7:8000").status_code == 400
