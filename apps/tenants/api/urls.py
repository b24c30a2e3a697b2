from django.urls import path

from apps.tenants.api import views

urlpatterns = [
    path("workspaces", views.WorkspaceListView.as_view(), name="console-workspaces"),
    path(
        "workspaces/current",
        views.CurrentWorkspaceView.as_view(),
        name="console-workspace-current",
    ),
    path("workspaces/current/members", views.MemberListView.as_view(), name="console-members"),
    path(
        "workspaces/current/members/<uuid:member_id>",
        views.MemberDetailView.as_view(),
        name="console-member",
    ),
    path("datasets/api-keys", views.DatasetApiKeyListView.as_view(), name="console-dataset-keys"),
    path(
        "datasets/api-keys/<uuid:key_id>",
        views.ApiKeyDetailView.as_view(),
        name="console-dataset-key",
    ),
    path("apps/<uuid:app_id>/api-keys", views.AppApiKeyListView.as_view(), name="console-app-keys"),
    path(
        "apps/<uuid:app_id>/api-keys/<uuid:key_id>",
        views.ApiKeyDetailView.as_view(),
        name="console-app-key",
    ),
]
