from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.workflows.api import console_views, views

router = SimpleRouter(trailing_slash=False)
router.register("apps", console_views.AppViewSet, basename="console-app")
router.register(
    r"apps/(?P<app_id>[0-9a-f-]{36})/workflow-runs",
    console_views.WorkflowRunViewSet,
    basename="console-workflow-run",
)

urlpatterns = [
    path("apps", views.ConsoleAppListView.as_view(), name="console-apps"),
    path(
        "apps/<uuid:app_id>/workflows/draft",
        console_views.DraftWorkflowView.as_view(),
        name="console-workflow-draft",
    ),
    path(
        "apps/<uuid:app_id>/workflows/draft/run",
        console_views.DraftRunView.as_view(),
        name="console-workflow-draft-run",
    ),
    path(
        "apps/<uuid:app_id>/workflows/publish",
        console_views.PublishWorkflowView.as_view(),
        name="console-workflow-publish",
    ),
    *router.urls,
]
