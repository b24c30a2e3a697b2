"""Tools console routes, included under ``console/api/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.tools.api import extension_views, views

P = "workspaces/current/tool-provider"

router = SimpleRouter(trailing_slash=False)
router.register(f"{P}/builtin", views.BuiltinProviderViewSet, basename="console-tool-builtin")
router.register(f"{P}/api", views.ApiProviderViewSet, basename="console-tool-api")
router.register(f"{P}/workflow", views.WorkflowToolViewSet, basename="console-tool-workflow")
router.register(f"{P}/mcp", views.McpProviderViewSet, basename="console-tool-mcp")

urlpatterns = [
    path(
        "workspaces/current/tool-providers",
        views.ToolProviderListView.as_view(),
        name="console-tool-providers",
    ),
    path(
        "api-based-extension",
        extension_views.ApiExtensionListView.as_view(),
        name="console-api-extensions",
    ),
    path(
        "api-based-extension/<str:extension_id>",
        extension_views.ApiExtensionDetailView.as_view(),
        name="console-api-extension",
    ),
    *router.urls,
]
