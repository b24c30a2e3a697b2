"""Service API: the key's app's annotations and its annotation reply (Dify's Annotations)."""

from __future__ import annotations

import math
import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import NotFound
from apps.workflows import annotation_services as services

from . import openapi as doc
from .base import ServiceAPIView

ACTION = OpenApiParameter("action", OpenApiTypes.STR, "path", enum=["enable", "disable"])


class AnnotationBody(serializers.Serializer):
    """CreateAnnotationRequest / UpdateAnnotationRequest."""

    question = serializers.CharField()
    answer = serializers.CharField()


class AnnotationListQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    keyword = serializers.CharField(required=False, allow_blank=True, default="")


class ReplySettingsBody(serializers.Serializer):
    """InitialAnnotationReplySettingsRequest."""

    embedding_provider_name = serializers.CharField(max_length=255)
    embedding_model_name = serializers.CharField(max_length=255)
    score_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)

    def validate_score_threshold(self, value: float) -> float:
        data = self.initial_data
        raw = data.get("score_threshold") if hasattr(data, "get") else None
        if isinstance(raw, bool) or not math.isfinite(value):
            raise serializers.ValidationError("A number between 0 and 1 is required.")
        return value


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class AnnotationsView(ServiceAPIView):
    """``GET /v1/apps/annotations?page&limit&keyword`` (AnnotationListResponse) and
    ``POST /v1/apps/annotations`` (201, AnnotationItem)."""

    @doc.service_api(
        "Annotations", "The app's annotations", query=AnnotationListQuery,
        responses=doc.AnnotationListResponse, errors=(400, 401),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        query = _valid(AnnotationListQuery, request.query_params)
        items, total = services.annotations_list(app=self.app, **query)
        page, limit = query["page"], query["limit"]
        return Response({
            "data": [services.annotation_item(a) for a in items],
            "has_more": page * limit < total, "limit": limit, "total": total, "page": page,
        })  # fmt: skip

    @doc.service_api(
        "Annotations", "Add an annotation", request=AnnotationBody,
        responses={201: doc.AnnotationItem}, errors=(400, 401),
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        body = _valid(AnnotationBody, request.data)
        annotation = services.annotation_create(app=self.app, **body)
        return Response(services.annotation_item(annotation), status=status.HTTP_201_CREATED)


class AnnotationDetailView(ServiceAPIView):
    """``PUT`` (AnnotationItem) and ``DELETE`` (204) ``/v1/apps/annotations/{annotation_id}``."""

    @doc.service_api(
        "Annotations", "Change an annotation", request=AnnotationBody,
        responses=doc.AnnotationItem, path_uuid=["annotation_id"],
    )  # fmt: skip
    def put(self, request: Request, annotation_id: str) -> Response:
        annotation = services.annotation_get(app=self.app, annotation_id=annotation_id)
        body = _valid(AnnotationBody, request.data)
        annotation = services.annotation_update(annotation=annotation, **body)
        return Response(services.annotation_item(annotation))

    @doc.service_api(
        "Annotations", "Delete an annotation", responses={204: None}, errors=(401, 404),
        path_uuid=["annotation_id"],
    )  # fmt: skip
    def delete(self, request: Request, annotation_id: str) -> Response:
        annotation = services.annotation_get(app=self.app, annotation_id=annotation_id)
        services.annotation_delete(annotation=annotation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationReplyView(ServiceAPIView):
    """``POST /v1/apps/annotation-reply/{enable|disable}``: starts the job (job_id, job_status).
    enable needs embedding_provider_name, embedding_model_name and score_threshold; disable
    takes the same body but needs none of it."""

    @doc.service_api(
        "Annotations", "Turn annotation reply on or off (a background job)",
        request=ReplySettingsBody, responses=doc.AnnotationJobResponse, errors=(400, 401, 404),
        parameters=[ACTION],
    )  # fmt: skip
    def post(self, request: Request, action: str) -> Response:
        settings = {}
        if action == "enable":
            settings = _valid(ReplySettingsBody, request.data)
        job = services.annotation_reply_action(app=self.app, action=action, **settings)
        return Response(services.job_payload(job))


class AnnotationReplyStatusView(ServiceAPIView):
    """``GET /v1/apps/annotation-reply/{action}/status/{job_id}``: job_id, job_status
    (waiting, processing, completed, error) and error_msg."""

    @doc.service_api(
        "Annotations", "The state of an annotation reply job",
        responses=doc.AnnotationJobStatusResponse, path_uuid=["job_id"], parameters=[ACTION],
    )  # fmt: skip
    def get(self, request: Request, action: str, job_id: str) -> Response:
        try:
            pk = uuid.UUID(job_id)
        except ValueError as exc:  # Dify's route only matches a UUID here
            raise NotFound("The requested URL was not found.") from exc
        job = services.annotation_reply_job_get(app=self.app, action=action, job_id=pk)
        return Response(services.job_payload(job, with_error=True))
