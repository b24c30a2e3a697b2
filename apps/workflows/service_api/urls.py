"""Service API (``/v1/…``) routes, one module per area."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.workflows.service_api.app_urls")),
    path("", include("apps.workflows.service_api.chat_urls")),
    path("", include("apps.workflows.service_api.workflow_urls")),
    path("", include("apps.workflows.service_api.annotation_urls")),
]
