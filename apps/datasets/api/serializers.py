"""Request bodies of the Knowledge API (Dify's field names, limits and enums).

Responses are shaped in ``payloads.py``; these serializers only validate input.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.datasets.rag.process_rule import process_rule_settings

INDEXING_TECHNIQUES = ["high_quality", "economy"]
DOC_FORMS = ["text_model", "hierarchical_model", "qa_model"]
PERMISSIONS = ["only_me", "all_team_members", "partial_members"]
SEARCH_METHODS = ["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]
METADATA_TYPES = ["string", "number", "time"]
MAX_QUERY_CHARS = 250


class RerankingModelSerializer(serializers.Serializer):
    reranking_provider_name = serializers.CharField(required=False, allow_blank=True)
    reranking_model_name = serializers.CharField(required=False, allow_blank=True)


class RetrievalModelSerializer(serializers.Serializer):
    """Dify's RetrievalModel; fields left out keep the dataset's own setting."""

    search_method = serializers.ChoiceField(choices=SEARCH_METHODS, required=False)
    reranking_enable = serializers.BooleanField(required=False)
    reranking_model = RerankingModelSerializer(required=False, allow_null=True)
    reranking_mode = serializers.ChoiceField(
        choices=["reranking_model", "weighted_score"], required=False, allow_null=True
    )
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=100)
    score_threshold_enabled = serializers.BooleanField(required=False)
    score_threshold = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, max_value=1.0
    )
    weights = serializers.DictField(required=False, allow_null=True)
    metadata_filtering_conditions = serializers.DictField(required=False, allow_null=True)


class ProcessRuleSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["automatic", "custom", "hierarchical"])
    rules = serializers.DictField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule = {"mode": attrs["mode"], "rules": attrs.get("rules") or {}}
        try:
            process_rule_settings(rule)
        except ValueError as exc:
            message = str(exc).removeprefix("process_rule.")
            raise serializers.ValidationError(message) from exc
        return rule


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, trim_whitespace=True)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=400, default=""
    )
    indexing_technique = serializers.ChoiceField(
        choices=INDEXING_TECHNIQUES, required=False, allow_null=True
    )
    permission = serializers.ChoiceField(choices=PERMISSIONS, required=False, default="only_me")
    provider = serializers.ChoiceField(
        choices=["vendor", "external"], required=False, default="vendor"
    )
    embedding_model = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    embedding_model_provider = serializers.CharField(
        required=False, allow_blank=True, allow_null=True
    )
    retrieval_model = RetrievalModelSerializer(required=False, allow_null=True)
    external_knowledge_api_id = serializers.CharField(required=False, allow_blank=True)
    external_knowledge_id = serializers.CharField(required=False, allow_blank=True)

    def validate_provider(self, value: str) -> str:
        if value == "external":
            raise serializers.ValidationError("External knowledge bases are not supported.")
        return value


class DatasetUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, required=False, trim_whitespace=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=400)
    indexing_technique = serializers.ChoiceField(choices=INDEXING_TECHNIQUES, required=False)
    permission = serializers.ChoiceField(choices=PERMISSIONS, required=False)
    embedding_model = serializers.CharField(required=False, allow_blank=True)
    embedding_model_provider = serializers.CharField(required=False, allow_blank=True)
    retrieval_model = RetrievalModelSerializer(required=False)
    partial_member_list = serializers.ListField(child=serializers.DictField(), required=False)


class _DocumentOptionsSerializer(serializers.Serializer):
    """Fields shared by create-by-text and the ``data`` part of create-by-file."""

    indexing_technique = serializers.ChoiceField(
        choices=INDEXING_TECHNIQUES, required=False, allow_null=True
    )
    doc_form = serializers.ChoiceField(choices=DOC_FORMS, required=False, allow_null=True)
    doc_language = serializers.CharField(required=False, allow_blank=True, max_length=32)
    process_rule = ProcessRuleSerializer(required=False, allow_null=True)
    retrieval_model = RetrievalModelSerializer(required=False, allow_null=True)
    embedding_model = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    embedding_model_provider = serializers.CharField(
        required=False, allow_blank=True, allow_null=True
    )
    original_document_id = serializers.UUIDField(required=False, allow_null=True)


class DocumentCreateByTextSerializer(_DocumentOptionsSerializer):
    name = serializers.CharField(max_length=255)
    text = serializers.CharField(trim_whitespace=False)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class DocumentCreateByFileDataSerializer(_DocumentOptionsSerializer):
    """The JSON ``data`` form field of create-by-file."""


class DocumentUpdateByTextSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    text = serializers.CharField(required=False, trim_whitespace=False)
    process_rule = ProcessRuleSerializer(required=False, allow_null=True)
    doc_form = serializers.ChoiceField(choices=DOC_FORMS, required=False, allow_null=True)
    doc_language = serializers.CharField(required=False, allow_blank=True, max_length=32)
    retrieval_model = RetrievalModelSerializer(required=False, allow_null=True)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "text" in attrs and not attrs.get("name"):
            raise serializers.ValidationError({"name": "name is required when text is given."})
        return attrs


class DocumentUpdateByFileDataSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    process_rule = ProcessRuleSerializer(required=False, allow_null=True)
    doc_form = serializers.ChoiceField(choices=DOC_FORMS, required=False, allow_null=True)
    doc_language = serializers.CharField(required=False, allow_blank=True, max_length=32)
    retrieval_model = RetrievalModelSerializer(required=False, allow_null=True)


class FileUploadSerializer(serializers.Serializer):
    """multipart/form-data: the file and Dify's JSON ``data`` string."""

    file = serializers.FileField()
    data = serializers.CharField(  # type: ignore[assignment]
        required=False, help_text="JSON object (string)"
    )


class DocumentStatusSerializer(serializers.Serializer):
    document_ids = serializers.ListField(child=serializers.UUIDField(), max_length=100)


class SegmentInputSerializer(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False)
    answer = serializers.CharField(required=False, allow_blank=True, default="")
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class SegmentCreateSerializer(serializers.Serializer):
    segments = SegmentInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=100
    )


class SegmentUpdateFieldsSerializer(serializers.Serializer):
    content = serializers.CharField(required=False, trim_whitespace=False)
    answer = serializers.CharField(required=False, allow_blank=True)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )
    enabled = serializers.BooleanField(required=False)
    regenerate_child_chunks = serializers.BooleanField(required=False, default=False)

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class SegmentUpdateSerializer(serializers.Serializer):
    segment = SegmentUpdateFieldsSerializer()


class ExternalRetrievalModelSerializer(serializers.Serializer):
    top_k = serializers.IntegerField(required=False)
    score_threshold = serializers.FloatField(required=False, allow_null=True)
    score_threshold_enabled = serializers.BooleanField(required=False)


class RetrieveSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=MAX_QUERY_CHARS)
    retrieval_model = RetrievalModelSerializer(required=False, allow_null=True)
    external_retrieval_model = ExternalRetrievalModelSerializer(required=False, allow_null=True)
    attachment_ids = serializers.ListField(child=serializers.CharField(), required=False)


class MetadataCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=METADATA_TYPES)
    name = serializers.CharField(max_length=255)


class MetadataUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)


class MetadataValueSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True)
    value = serializers.JSONField(required=False, allow_null=True)


class DocumentMetadataOperationSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    metadata_list = MetadataValueSerializer(many=True)
    partial_update = serializers.BooleanField(required=False, default=False)


class DocumentMetadataSerializer(serializers.Serializer):
    operation_data = DocumentMetadataOperationSerializer(  # type: ignore[call-arg]
        many=True, max_length=100
    )


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, default="")


class DocumentListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=["queuing", "indexing", "paused", "error", "available", "disabled", "archived"],
        required=False,
    )


class SegmentListQuerySerializer(PageQuerySerializer):
    status = serializers.ListField(child=serializers.CharField(), required=False)
