from django.urls import path

from apps.providers.api import views

urlpatterns = [
    path(
        "workspaces/current/model-providers",
        views.ModelProviderListView.as_view(),
        name="console-model-providers",
    ),
    path(
        "workspaces/current/model-providers/<str:provider>/credentials",
        views.ProviderCredentialView.as_view(),
        name="console-provider-credentials",
    ),
    path(
        "workspaces/current/models",
        views.WorkspaceModelListView.as_view(),
        name="console-models",
    ),
    path(
        "workspaces/current/default-model",
        views.DefaultModelView.as_view(),
        name="console-default-model",
    ),
]
