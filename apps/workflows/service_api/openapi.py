"""OpenAPI description of the Service API (drf-spectacular): the two key schemes, and
Dify's request bodies, query strings and response shapes as documentation serializers.

The views validate their input themselves (Dify's exact messages and error codes); these
serializers only describe the wire format for ``/api/schema/`` and Swagger UI, and are
never used to parse a request. (A field named ``data`` shadows ``Serializer.data`` for mypy
only: DRF's metaclass moves declared fields off the class, hence its ``type: ignore``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers

from apps.workflows.file_services import FILE_TYPES
from apps.workflows.service_api.base import RESPONSE_MODES


class AppKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.tenants.authentication.AppKeyAuthentication"
    name = "AppApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The app's API key (app-…), from its API access page.",
        }


class WebAppTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.workflows.web.auth.WebTokenAuthentication"
    name = "WebAppToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A chat page's signed end-user token (web-…), scoped to one app "
            "and one end user.",
        }


@extend_schema_field(OpenApiTypes.BINARY)
class UploadedFile(serializers.FileField):
    """A multipart file part (``format: binary``, so Swagger UI offers a file picker)."""


# --- shared shapes ---------------------------------------------------------------------------
class ErrorBody(serializers.Serializer):
    """Dify's error body: a stable ``code``, a human ``message`` and the HTTP ``status``."""

    code = serializers.CharField()
    message = serializers.CharField()
    status = serializers.IntegerField()


class SuccessResult(serializers.Serializer):
    result = serializers.CharField(default="success")


class InputFileObject(serializers.Serializer):
    type = serializers.ChoiceField(choices=FILE_TYPES)
    transfer_method = serializers.ChoiceField(choices=["remote_url", "local_file"])
    url = serializers.URLField(required=False, help_text="With transfer_method remote_url.")
    upload_file_id = serializers.CharField(
        required=False, help_text="With transfer_method local_file: an id from /files/upload."
    )


class Usage(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    prompt_unit_price = serializers.CharField()
    prompt_price_unit = serializers.CharField()
    prompt_price = serializers.CharField()
    completion_tokens = serializers.IntegerField()
    completion_unit_price = serializers.CharField()
    completion_price_unit = serializers.CharField()
    completion_price = serializers.CharField()
    total_tokens = serializers.IntegerField()
    total_price = serializers.CharField()
    currency = serializers.CharField()
    latency = serializers.FloatField()


class RetrieverResource(serializers.Serializer):
    position = serializers.IntegerField()
    dataset_id = serializers.UUIDField()
    dataset_name = serializers.CharField()
    document_id = serializers.UUIDField()
    document_name = serializers.CharField()
    data_source_type = serializers.CharField()
    segment_id = serializers.UUIDField()
    score = serializers.FloatField()
    hit_count = serializers.IntegerField()
    word_count = serializers.IntegerField()
    segment_position = serializers.IntegerField()
    index_node_hash = serializers.CharField()
    content = serializers.CharField()
    created_at = serializers.IntegerField()


class MessageMetadata(serializers.Serializer):
    usage = Usage()
    retriever_resources = RetrieverResource(many=True)


# --- chat and completion messages ------------------------------------------------------------
class ChatRequest(serializers.Serializer):
    query = serializers.CharField(help_text="The user's message.")
    inputs = serializers.DictField(help_text="Values of the app's variables ({} if none).")
    response_mode = serializers.ChoiceField(choices=RESPONSE_MODES, default="blocking")
    user = serializers.CharField(max_length=255, help_text="Your id of the end user.")
    conversation_id = serializers.CharField(
        required=False, allow_blank=True, help_text="Continue this conversation; empty starts one."
    )
    files = InputFileObject(many=True, required=False)
    auto_generate_name = serializers.BooleanField(default=True)
    workflow_id = serializers.CharField(
        required=False, help_text="advanced-chat apps: run this published version."
    )


class CompletionRequest(serializers.Serializer):
    inputs = serializers.DictField()
    query = serializers.CharField(required=False, allow_blank=True)
    response_mode = serializers.ChoiceField(choices=RESPONSE_MODES, default="blocking")
    user = serializers.CharField(max_length=255)
    files = InputFileObject(many=True, required=False)


class CompletionResponse(serializers.Serializer):
    event = serializers.CharField(default="message")
    task_id = serializers.UUIDField()
    id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    mode = serializers.CharField()
    answer = serializers.CharField()
    metadata = MessageMetadata()
    created_at = serializers.IntegerField()


class ChatCompletionResponse(CompletionResponse):
    conversation_id = serializers.UUIDField()


class StopRequest(serializers.Serializer):
    user = serializers.CharField(max_length=255)


class MessagesQuery(serializers.Serializer):
    conversation_id = serializers.CharField()
    user = serializers.CharField(required=False)
    first_id = serializers.CharField(required=False, help_text="Messages before this one.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class MessageFileItem(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    type = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    mime_type = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    transfer_method = serializers.CharField()
    belongs_to = serializers.CharField(allow_null=True)
    upload_file_id = serializers.UUIDField(allow_null=True)


class AgentThoughtItem(serializers.Serializer):
    id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    position = serializers.IntegerField()
    thought = serializers.CharField()
    tool = serializers.CharField()
    tool_input = serializers.CharField()
    observation = serializers.CharField()
    files = serializers.ListField(child=serializers.CharField())
    created_at = serializers.IntegerField()


class ConversationMessageItem(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    parent_message_id = serializers.UUIDField(allow_null=True)
    inputs = serializers.DictField()
    query = serializers.CharField()
    answer = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    message_files = MessageFileItem(many=True)
    feedback = serializers.DictField(allow_null=True)
    retriever_resources = RetrieverResource(many=True)
    agent_thoughts = AgentThoughtItem(many=True)
    created_at = serializers.IntegerField()


class ConversationHistoryResponse(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConversationMessageItem(many=True)  # type: ignore[assignment]


class MessageFeedbackRequest(serializers.Serializer):
    rating = serializers.ChoiceField(
        choices=["like", "dislike"], allow_null=True, help_text="null revokes the feedback."
    )
    user = serializers.CharField(max_length=255)
    content = serializers.CharField(required=False, allow_blank=True)


class SuggestedQuery(serializers.Serializer):
    user = serializers.CharField()


class SuggestedQuestionsResponse(serializers.Serializer):
    result = serializers.CharField(default="success")
    data = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


class AppFeedbacksQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class FeedbackItem(serializers.Serializer):
    id = serializers.UUIDField()
    app_id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    rating = serializers.CharField()
    content = serializers.CharField(allow_null=True)
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AppFeedbacksResponse(serializers.Serializer):
    data = FeedbackItem(many=True)  # type: ignore[assignment]


# --- conversations -----------------------------------------------------------------------------
class ConversationsQuery(serializers.Serializer):
    user = serializers.CharField(required=False)
    last_id = serializers.CharField(required=False, help_text="Conversations after this one.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    sort_by = serializers.ChoiceField(
        choices=["created_at", "-created_at", "updated_at", "-updated_at"],
        required=False,
        default="-updated_at",
    )


class ConversationListItem(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    inputs = serializers.DictField()
    status = serializers.CharField()
    introduction = serializers.CharField()
    created_at = serializers.IntegerField()
    updated_at = serializers.IntegerField()


class ConversationsListResponse(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConversationListItem(many=True)  # type: ignore[assignment]


class ConversationDeleteRequest(serializers.Serializer):
    user = serializers.CharField(required=False)


class ConversationRenameRequest(serializers.Serializer):
    name = serializers.CharField(required=False, help_text="Left out with auto_generate.")
    auto_generate = serializers.BooleanField(default=False)
    user = serializers.CharField(required=False)


class ConversationVariablesQuery(serializers.Serializer):
    user = serializers.CharField(required=False)
    last_id = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    variable_name = serializers.CharField(required=False)


class ConversationVariableItem(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    value_type = serializers.CharField()
    value = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.IntegerField()
    updated_at = serializers.IntegerField()


class ConversationVariablesResponse(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConversationVariableItem(many=True)  # type: ignore[assignment]


class ConversationVariableUpdateRequest(serializers.Serializer):
    value = serializers.JSONField(help_text="A value of the variable's type.")
    user = serializers.CharField(required=False)


# --- files, audio, the app ---------------------------------------------------------------------
class FileUploadRequest(serializers.Serializer):
    file = UploadedFile()
    user = serializers.CharField()


class FileUploadResponse(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    extension = serializers.CharField(allow_null=True)
    mime_type = serializers.CharField(allow_null=True)
    created_by = serializers.UUIDField(allow_null=True)
    created_at = serializers.IntegerField()
    preview_url = serializers.CharField(allow_null=True)
    source_url = serializers.CharField()


class FilePreviewQuery(serializers.Serializer):
    as_attachment = serializers.BooleanField(required=False, default=False)
    user = serializers.CharField(required=False)


class AudioToTextRequest(serializers.Serializer):
    file = UploadedFile()
    user = serializers.CharField(required=False)


class AudioToTextResponse(serializers.Serializer):
    text = serializers.CharField()


class TextToAudioRequest(serializers.Serializer):
    message_id = serializers.UUIDField(required=False, help_text="Speak this message's answer.")
    text = serializers.CharField(required=False, help_text="Or speak this text.")
    user = serializers.CharField(required=False)
    voice = serializers.CharField(required=False)
    streaming = serializers.BooleanField(required=False)


class EndUserDetail(serializers.Serializer):
    id = serializers.UUIDField()
    tenant_id = serializers.UUIDField()
    app_id = serializers.UUIDField(allow_null=True)
    type = serializers.CharField()
    external_user_id = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    is_anonymous = serializers.BooleanField()
    session_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AppMetaResponse(serializers.Serializer):
    tool_icons = serializers.DictField()


class WebAppSettingsResponse(serializers.Serializer):
    title = serializers.CharField()
    chat_color_theme = serializers.CharField(allow_null=True)
    chat_color_theme_inverted = serializers.BooleanField()
    icon_type = serializers.CharField(allow_null=True)
    icon = serializers.CharField(allow_null=True)
    icon_background = serializers.CharField(allow_null=True)
    icon_url = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    copyright = serializers.CharField(allow_null=True)
    privacy_policy = serializers.CharField(allow_null=True)
    custom_disclaimer = serializers.CharField(allow_null=True)
    default_language = serializers.CharField()
    show_workflow_steps = serializers.BooleanField()
    use_icon_as_answer_icon = serializers.BooleanField()


# --- workflows ---------------------------------------------------------------------------------
class WorkflowExecutionRequest(serializers.Serializer):
    inputs = serializers.DictField()
    response_mode = serializers.ChoiceField(choices=RESPONSE_MODES, default="blocking")
    user = serializers.CharField(max_length=255)
    files = InputFileObject(many=True, required=False)


class WorkflowFinishedData(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    status = serializers.CharField()
    outputs = serializers.DictField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_at = serializers.IntegerField()
    finished_at = serializers.IntegerField(allow_null=True)


class WorkflowBlockingResponse(serializers.Serializer):
    task_id = serializers.UUIDField()
    workflow_run_id = serializers.UUIDField()
    data = WorkflowFinishedData()  # type: ignore[assignment]


class WorkflowRunDetailResponse(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    status = serializers.CharField()
    inputs = serializers.CharField(allow_null=True, help_text="The inputs as a JSON string.")
    outputs = serializers.DictField()
    error = serializers.CharField(allow_null=True)
    total_steps = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    created_at = serializers.IntegerField()
    finished_at = serializers.IntegerField(allow_null=True)
    elapsed_time = serializers.FloatField(allow_null=True)


class WorkflowRunSummary(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()


class WorkflowLogItem(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_run = WorkflowRunSummary()
    created_from = serializers.CharField()
    created_by_role = serializers.CharField()
    created_by_account = serializers.DictField(allow_null=True)
    created_by_end_user = serializers.DictField(allow_null=True)
    created_at = serializers.IntegerField()


class WorkflowLogsResponse(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = WorkflowLogItem(many=True)  # type: ignore[assignment]


class WorkflowEventsQuery(serializers.Serializer):
    user = serializers.CharField()
    last_event_id = serializers.CharField(
        required=False, help_text="Resume after this event id (or send a Last-Event-ID header)."
    )


# --- annotations -------------------------------------------------------------------------------
class AnnotationItem(serializers.Serializer):
    id = serializers.UUIDField()
    question = serializers.CharField(allow_null=True)
    answer = serializers.CharField(allow_null=True)
    hit_count = serializers.IntegerField(allow_null=True)
    created_at = serializers.IntegerField(allow_null=True)


class AnnotationListResponse(serializers.Serializer):
    data = AnnotationItem(many=True)  # type: ignore[assignment]
    has_more = serializers.BooleanField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()


class AnnotationJobResponse(serializers.Serializer):
    job_id = serializers.UUIDField()
    job_status = serializers.CharField()


class AnnotationJobStatusResponse(AnnotationJobResponse):
    error_msg = serializers.CharField()


# --- the decorator the views use ---------------------------------------------------------------
SSE = (200, "text/event-stream")


def service_api(
    tag: str,
    summary: str,
    *,
    request: Any = None,
    responses: Any = SuccessResult,
    query: type[serializers.Serializer] | None = None,
    errors: Sequence[int] = (400, 401, 404),
    streams: bool = False,
    operation_id: str | None = None,
    path_uuid: Sequence[str] = (),
    parameters: Sequence[OpenApiParameter] = (),
) -> Callable[[Any], Any]:
    """``extend_schema`` for a Service API method: its Dify tag, body, query string, the
    documented response (plus the SSE stream when ``streams``) and Dify's error body."""
    documented: dict[Any, Any] = {}
    if streams:
        documented[(200, "application/json")] = responses
        documented[SSE] = OpenApiTypes.STR
    elif isinstance(responses, dict):
        documented.update(responses)
    else:
        documented[200] = responses
    for status in errors:
        documented[status] = ErrorBody
    listed: list[Any] = [query] if query is not None else []
    listed += [OpenApiParameter(name, OpenApiTypes.UUID, "path") for name in path_uuid]
    listed += parameters
    return extend_schema(
        tags=[tag],
        summary=summary,
        request=request,
        responses=documented,
        parameters=listed or None,
        operation_id=operation_id,
    )
