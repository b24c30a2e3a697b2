"""Service API (``/v1/…``) routes for apps."""

from django.urls import path

from apps.workflows.api import views

urlpatterns = [
    path("info", views.ServiceAppInfoView.as_view(), name="service-app-info"),
]
