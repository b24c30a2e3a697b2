"""Shared pieces of the Knowledge API views: dataset-key auth, lookups, pagination."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.errors import AppError, InvalidParam
from apps.datasets import selectors
from apps.datasets.models import Dataset, Document, MetadataField, Segment
from apps.tenants.authentication import DatasetKeyAuthentication, principal_of
from apps.tenants.models import Workspace


class DatasetKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.tenants.authentication.DatasetKeyAuthentication"
    name = "DatasetApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "dataset-… API key"}


class DatasetAPIView(APIView):
    """``Authorization: Bearer dataset-…``; every lookup is scoped to the key's workspace."""

    authentication_classes = [DatasetKeyAuthentication]
    permission_classes: list[type] = []

    @property
    def workspace(self) -> Workspace:
        return principal_of(self.request).workspace

    def get_dataset(self, dataset_id: Any) -> Dataset:
        return selectors.dataset_get(workspace=self.workspace, dataset_id=str(dataset_id))

    def get_document(self, dataset_id: Any, document_id: Any) -> Document:
        dataset = self.get_dataset(dataset_id)
        return selectors.document_get(dataset=dataset, document_id=str(document_id))

    def get_segment(self, dataset_id: Any, document_id: Any, segment_id: Any) -> Segment:
        document = self.get_document(dataset_id, document_id)
        return selectors.segment_get(document=document, segment_id=str(segment_id))

    def get_metadata_field(self, dataset: Dataset, metadata_id: Any) -> MetadataField:
        field = MetadataField.objects.for_workspace(self.workspace).filter(
            dataset=dataset, pk=metadata_id
        )
        found = field.first()
        if found is None:
            raise AppError("Metadata not found.", code="not_found", status=404)
        return found


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    return validated(serializer_class, request.query_params)


def paginate(qs: QuerySet[Any], *, page: int, limit: int) -> tuple[list[Any], dict[str, Any]]:
    total = qs.count()
    items = list(qs[(page - 1) * limit : page * limit])
    meta = {"has_more": page * limit < total, "limit": limit, "total": total, "page": page}
    return items, meta


def json_data_field(request: Request) -> dict[str, Any]:
    """Dify's multipart ``data`` field: a JSON object sent as a string."""
    raw = request.data.get("data") if hasattr(request.data, "get") else None
    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidParam("data: must be a JSON object string.") from exc
    if not isinstance(parsed, dict):
        raise InvalidParam("data: must be a JSON object string.")
    return parsed
