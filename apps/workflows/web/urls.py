from django.urls import path

from apps.workflows.web import views

urlpatterns = [
    path("<uuid:app_id>/", views.chat_page, name="web-chat"),
    path("<uuid:app_id>/token", views.chat_token, name="web-chat-token"),
]
