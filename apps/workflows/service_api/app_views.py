"""Service API: the app itself (parameters, meta, site), files, conversation variables."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import AppError, Forbidden
from apps.workflows import conversation_variable_services as variables
from apps.workflows import file_services, parameters, selectors
from apps.workflows.service_api import openapi as doc
from apps.workflows.service_api.base import (
    CHAT_MODES,
    WEB_OR_APP_KEY,
    NotChatApp,
    ServiceAPIView,
)


class AppParametersView(ServiceAPIView):
    """``GET /v1/parameters``: Dify's AppParametersResponse."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Applications", "The app's input form and features", responses=OpenApiTypes.OBJECT,
        errors=(400, 401),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(parameters.app_parameters(app=self.app))


class AppMetaView(ServiceAPIView):
    """``GET /v1/meta``: Dify's AppMetaResponse."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Applications", "The app's tool icons", responses=doc.AppMetaResponse, errors=(401,)
    )
    def get(self, request: Request) -> Response:
        return Response(parameters.app_meta(app=self.app))


class EndUserDetailView(ServiceAPIView):
    """``GET /v1/end-users/{end_user_id}``: one end user of the key's app (EndUserDetail)."""

    @doc.service_api(
        "End Users", "One end user of the app", responses=doc.EndUserDetail,
        errors=(401, 404), path_uuid=["end_user_id"],
    )  # fmt: skip
    def get(self, request: Request, end_user_id: str) -> Response:
        found = selectors.end_user_get(app=self.app, end_user_id=end_user_id)
        return Response(selectors.end_user_detail(found))


class AppSiteView(ServiceAPIView):
    """``GET /v1/site``: Dify's WebAppSettingsResponse (403 when the site is disabled)."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Applications", "The app's web site settings", responses=doc.WebAppSettingsResponse,
        errors=(401, 403),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        if not self.app.enable_site:
            raise Forbidden("The app's web site is disabled.")
        return Response(parameters.app_site(app=self.app))


class FileUploadView(ServiceAPIView):
    """``POST /v1/files/upload`` (multipart ``file`` + ``user``): FileUploadResponse, 201."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Files", "Upload a file to send with a message or run",
        request={"multipart/form-data": doc.FileUploadRequest},
        responses={201: doc.FileUploadResponse}, errors=(400, 401, 413, 415),
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        files = request.FILES
        if "file" not in files:
            raise AppError("Please upload your file.", code="no_file_uploaded")
        if sum(len(files.getlist(name)) for name in files) > 1:
            raise AppError("Only one file is allowed.", code="too_many_files")
        end_user = self.end_user(request, required=False)
        assert end_user is not None
        upload = file_services.file_upload(app=self.app, end_user=end_user, uploaded=files["file"])
        return Response(file_services.file_payload(upload), status=status.HTTP_201_CREATED)


class FilePreviewView(ServiceAPIView):
    """``GET /v1/files/{file_id}/preview[?as_attachment=true]``: the uploader's file."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Files", "Download or preview an uploaded file", query=doc.FilePreviewQuery,
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        errors=(401, 403, 404), path_uuid=["file_id"],
    )  # fmt: skip
    def get(self, request: Request, file_id: str) -> FileResponse:
        end_user = self.end_user(request, create=False, required=False)
        upload = file_services.file_for_preview(app=self.app, end_user=end_user, file_id=file_id)
        attachment = request.query_params.get("as_attachment", "").lower() in ("1", "true")
        response = FileResponse(
            upload.file.open("rb"),
            as_attachment=attachment,
            filename=upload.name,
            content_type=upload.mime_type or "application/octet-stream",
        )
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ConversationVariablesView(ServiceAPIView):
    """``GET /v1/conversations/{id}/variables``: ConversationVariablesResponse."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "A conversation's variables", query=doc.ConversationVariablesQuery,
        responses=doc.ConversationVariablesResponse,
    )  # fmt: skip
    def get(self, request: Request, conversation_id: str) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        query = request.query_params
        return Response(
            variables.conversation_variables_list(
                app=self.app,
                end_user=self.end_user(request, create=False, required=False),
                conversation_id=conversation_id,
                limit=variables.limit_param(query.get("limit")),
                last_id=query.get("last_id") or "",
                variable_name=query.get("variable_name") or "",
            )
        )


class ConversationVariableUpdateView(ServiceAPIView):
    """``PUT /v1/conversations/{id}/variables/{variable_id}`` ``{value, user}``."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "Set a conversation variable",
        request=doc.ConversationVariableUpdateRequest, responses=doc.ConversationVariableItem,
        path_uuid=["conversation_id", "variable_id"],
    )  # fmt: skip
    def put(self, request: Request, conversation_id: str, variable_id: str) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        body: Any = request.data
        if not hasattr(body, "get") or "value" not in body:
            raise AppError("value is required", code="invalid_param")
        return Response(
            variables.conversation_variable_update(
                app=self.app,
                end_user=self.end_user(request, create=False, required=False),
                conversation_id=conversation_id,
                variable_id=variable_id,
                value=body.get("value"),
            )
        )
