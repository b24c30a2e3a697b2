"""Service API routes of annotations and annotation reply."""

from django.urls import path

from . import annotation_views as views

urlpatterns = [
    path("apps/annotations", views.AnnotationsView.as_view(), name="service-annotations"),
    path(
        "apps/annotations/<str:annotation_id>",
        views.AnnotationDetailView.as_view(),
        name="service-annotation",
    ),
    path(
        "apps/annotation-reply/<str:action>",
        views.AnnotationReplyView.as_view(),
        name="service-annotation-reply",
    ),
    path(
        "apps/annotation-reply/<str:action>/status/<str:job_id>",
        views.AnnotationReplyStatusView.as_view(),
        name="service-annotation-reply-status",
    ),
]
