from django.urls import path

from apps.workflows.api import views

urlpatterns = [
    path("apps", views.ConsoleAppListView.as_view(), name="console-apps"),
]
