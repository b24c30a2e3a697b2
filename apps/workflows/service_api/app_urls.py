from django.urls import path

from apps.workflows.api import views
from apps.workflows.service_api import app_views, audio_views

urlpatterns = [
    path("info", views.ServiceAppInfoView.as_view(), name="service-app-info"),
    path("parameters", app_views.AppParametersView.as_view(), name="service-app-parameters"),
    path("meta", app_views.AppMetaView.as_view(), name="service-app-meta"),
    path("site", app_views.AppSiteView.as_view(), name="service-app-site"),
    path(
        "end-users/<str:end_user_id>",
        app_views.EndUserDetailView.as_view(),
        name="service-end-user",
    ),
    path("audio-to-text", audio_views.AudioToTextView.as_view(), name="service-audio-to-text"),
    path("text-to-audio", audio_views.TextToAudioView.as_view(), name="service-text-to-audio"),
    path("files/upload", app_views.FileUploadView.as_view(), name="service-file-upload"),
    path(
        "files/<str:file_id>/preview",
        app_views.FilePreviewView.as_view(),
        name="service-file-preview",
    ),
    path(
        "conversations/<str:conversation_id>/variables",
        app_views.ConversationVariablesView.as_view(),
        name="service-conversation-variables",
    ),
    path(
        "conversations/<str:conversation_id>/variables/<str:variable_id>",
        app_views.ConversationVariableUpdateView.as_view(),
        name="service-conversation-variable-update",
    ),
]
