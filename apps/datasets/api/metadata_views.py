"""Metadata fields of a dataset, built-in fields, and documents' metadata values."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import AppError, InvalidParam
from apps.datasets import selectors, services
from apps.datasets.api import serializers as s
from apps.datasets.api.base import DatasetAPIView, validated
from apps.datasets.api.payloads import BUILT_IN_FIELDS, metadata_field_payload
from apps.datasets.models import MetadataField

TAG = ["Metadata"]
OBJ = {200: OpenApiTypes.OBJECT}
BUILT_IN_NAMES = {f["name"] for f in BUILT_IN_FIELDS}


def _check_name(name: str) -> str:
    if name in BUILT_IN_NAMES:
        raise InvalidParam("name: Metadata name already exists in Built-in fields.")
    return name


class MetadataListView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        fields = list(MetadataField.objects.for_workspace(self.workspace).filter(dataset=dataset))
        counts: dict[str, int] = {}
        if fields:
            counts = dataset.documents.aggregate(
                **{
                    f"c{i}": Count("pk", filter=Q(doc_metadata__has_key=f.name))
                    for i, f in enumerate(fields)
                }
            )
        return Response(
            {
                "doc_metadata": [
                    {**metadata_field_payload(f), "count": counts.get(f"c{i}", 0)}
                    for i, f in enumerate(fields)
                ],
                "built_in_field_enabled": dataset.built_in_field_enabled,
            }
        )

    @extend_schema(
        tags=TAG, request=s.MetadataCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.MetadataCreateSerializer, request.data)
        field = services.metadata_field_create(
            dataset=dataset, name=_check_name(body["name"]), type=body["type"]
        )
        return Response(metadata_field_payload(field), status=status.HTTP_201_CREATED)


class MetadataDetailView(DatasetAPIView):
    @extend_schema(tags=TAG, request=s.MetadataUpdateSerializer, responses=OBJ)
    def patch(self, request: Request, dataset_id: Any, metadata_id: Any) -> Response:
        field = self.get_metadata_field(self.get_dataset(dataset_id), metadata_id)
        body = validated(s.MetadataUpdateSerializer, request.data)
        field = services.metadata_field_update(field=field, name=_check_name(body["name"]))
        return Response(metadata_field_payload(field))

    @extend_schema(tags=TAG, responses={204: None})
    def delete(self, request: Request, dataset_id: Any, metadata_id: Any) -> Response:
        field = self.get_metadata_field(self.get_dataset(dataset_id), metadata_id)
        services.metadata_field_delete(field=field)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BuiltInFieldsView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any) -> Response:
        self.get_dataset(dataset_id)
        return Response({"fields": BUILT_IN_FIELDS})


class BuiltInActionView(DatasetAPIView):
    @extend_schema(tags=TAG, request=None, responses=OBJ)
    def post(self, request: Request, dataset_id: Any, action: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        if action not in ("enable", "disable"):
            raise AppError(f"Invalid action: {action}.", code="invalid_action", status=400)
        enabled = action == "enable"
        if dataset.built_in_field_enabled != enabled:
            services.dataset_update(dataset=dataset, built_in_field_enabled=enabled)
        return Response({"result": "success"})


class DocumentMetadataView(DatasetAPIView):
    """``POST /datasets/{id}/documents/metadata``: set metadata values of documents."""

    @extend_schema(tags=TAG, request=s.DocumentMetadataSerializer, responses=OBJ)
    def post(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.DocumentMetadataSerializer, request.data)
        fields = {
            str(f.id): f
            for f in MetadataField.objects.for_workspace(self.workspace).filter(dataset=dataset)
        }
        plans = []
        for i, op in enumerate(body["operation_data"]):
            document = selectors.document_get(dataset=dataset, document_id=op["document_id"])
            values = dict(document.doc_metadata or {}) if op["partial_update"] else {}
            for j, item in enumerate(op["metadata_list"]):
                if item["id"] == "built-in":
                    if item.get("name", "") not in BUILT_IN_NAMES:
                        raise InvalidParam(
                            f"operation_data[{i}].metadata_list[{j}].name: unknown built-in field."
                        )
                    continue  # built-in values are derived from the document itself
                if item["id"] in fields:
                    name = fields[item["id"]].name
                else:
                    raise AppError(
                        f"Metadata {item['id']} not found.", code="not_found", status=404
                    )
                values[name] = item.get("value")
            plans.append((document, values))
        with transaction.atomic():  # every document or none
            for document, values in plans:
                services.document_metadata_set(document=document, values=values)
        return Response({"result": "success"})
