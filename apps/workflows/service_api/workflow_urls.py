"""Service API routes of workflow apps (``/v1/workflows…``, ``/v1/workflow/{id}/events``)."""

from django.urls import path

from apps.workflows.service_api import workflow_views as views

urlpatterns = [
    path("workflows/run", views.WorkflowRunView.as_view(), name="service-workflow-run"),
    path(
        "workflows/run/<str:workflow_run_id>",
        views.WorkflowRunDetailView.as_view(),
        name="service-workflow-run-detail",
    ),
    path(
        "workflows/tasks/<str:task_id>/stop",
        views.WorkflowTaskStopView.as_view(),
        name="service-workflow-task-stop",
    ),
    path("workflows/logs", views.WorkflowLogsView.as_view(), name="service-workflow-logs"),
    path(
        "workflows/<str:workflow_id>/run",
        views.WorkflowRunByIdView.as_view(),
        name="service-workflow-run-by-id",
    ),
    path(
        "workflow/<str:workflow_run_id>/events",
        views.WorkflowRunEventsView.as_view(),
        name="service-workflow-run-events",
    ),
]
