from django.urls import path

from apps.workflows.api import views

urlpatterns = [
    path("info", views.ServiceAppInfoView.as_view(), name="service-app-info"),
]
