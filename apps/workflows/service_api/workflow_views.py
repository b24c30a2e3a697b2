"""Service API views of workflow apps: run, run a version, stop, run detail, logs, and
the resumable event stream of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam
from apps.workflows import workflow_api_services as services
from apps.workflows import workflow_run_selectors as selectors
from apps.workflows.service_api import openapi as doc
from apps.workflows.service_api.base import (
    RESPONSE_MODES,
    WEB_OR_APP_KEY,
    WORKFLOW_MODES,
    NotWorkflowApp,
    ServiceAPIView,
)

GRAPH_MODES = ("workflow", "advanced-chat")


def _body(request: Request) -> Mapping[str, Any]:
    if not isinstance(request.data, Mapping):
        raise InvalidParam("the request body must be a JSON object")
    return request.data


class WorkflowRunView(ServiceAPIView):
    """``POST /workflows/run``: run the published workflow (blocking JSON or SSE)."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Workflow Runs", "Run the published workflow", request=doc.WorkflowExecutionRequest,
        responses=doc.WorkflowBlockingResponse, streams=True, errors=(400, 401, 429),
    )  # fmt: skip
    def post(self, request: Request, workflow_id: str | None = None) -> HttpResponseBase:
        self.require_modes(WORKFLOW_MODES, NotWorkflowApp)
        body = _body(request)
        response_mode = body.get("response_mode") or "blocking"
        if response_mode not in RESPONSE_MODES:
            raise InvalidParam("response_mode must be 'blocking' or 'streaming'")
        end_user = self.end_user(request)
        assert end_user is not None
        run = services.workflow_api_run_start(
            app=self.app, end_user=end_user, inputs=body.get("inputs"),
            files=body.get("files"), workflow_id=workflow_id,
        )  # fmt: skip
        if response_mode == "streaming":
            services.workflow_api_run_in_background(run)
            return services.run_events_stream(run.handle.record)
        return Response(services.workflow_api_run_blocking(run))


class WorkflowRunByIdView(WorkflowRunView):
    """``POST /workflows/{workflow_id}/run``: run one published version of the workflow."""

    @doc.service_api(
        "Workflow Runs", "Run one published version of the workflow",
        request=doc.WorkflowExecutionRequest, responses=doc.WorkflowBlockingResponse,
        streams=True, errors=(400, 401, 403, 404, 429), operation_id="v1_workflows_run_version",
    )  # fmt: skip
    def post(self, request: Request, workflow_id: str | None = None) -> HttpResponseBase:
        return super().post(request, workflow_id)


class WorkflowTaskStopView(ServiceAPIView):
    """``POST /workflows/tasks/{task_id}/stop``."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api("Workflow Runs", "Stop a streaming run", request=doc.StopRequest)
    def post(self, request: Request, task_id: str) -> Response:
        self.require_modes(WORKFLOW_MODES, NotWorkflowApp)
        user = self.user_value(request)
        services.workflow_api_stop(app=self.app, task_id=task_id, user=user)
        return Response({"result": "success"})


class WorkflowRunDetailView(ServiceAPIView):
    """``GET /workflows/run/{workflow_run_id}``."""

    @doc.service_api(
        "Workflow Runs", "One run's status and outputs", responses=doc.WorkflowRunDetailResponse
    )
    def get(self, request: Request, workflow_run_id: str) -> Response:
        self.require_modes(GRAPH_MODES, NotWorkflowApp)
        run = selectors.run_get(app=self.app, run_id=workflow_run_id)
        return Response(selectors.run_detail(run))


class WorkflowLogsQuery(serializers.Serializer):
    keyword = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=["succeeded", "failed", "stopped"], required=False, allow_blank=True, default=""
    )
    created_at__before = serializers.DateTimeField(required=False, default=None)
    created_at__after = serializers.DateTimeField(required=False, default=None)
    created_by_end_user_session_id = serializers.CharField(
        required=False, allow_blank=True, default=""
    )
    created_by_account = serializers.CharField(required=False, allow_blank=True, default="")
    page = serializers.IntegerField(min_value=1, max_value=99999, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class WorkflowLogsView(ServiceAPIView):
    """``GET /workflows/logs``: the app's runs, newest first, paginated."""

    @doc.service_api(
        "Workflow Runs", "The app's runs, newest first", query=WorkflowLogsQuery,
        responses=doc.WorkflowLogsResponse, errors=(400, 401),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        self.require_modes(GRAPH_MODES, NotWorkflowApp)
        query = WorkflowLogsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        args = query.validated_data
        return Response(
            selectors.workflow_logs_list(
                app=self.app,
                keyword=args["keyword"],
                status=args["status"],
                created_before=args["created_at__before"],
                created_after=args["created_at__after"],
                session_id=args["created_by_end_user_session_id"],
                account=args["created_by_account"],
                page=args["page"],
                limit=args["limit"],
            )
        )


class WorkflowRunEventsView(ServiceAPIView):
    """``GET /workflow/{workflow_run_id}/events?user=…``: the run's events as SSE, from
    after ``Last-Event-ID`` (header) or ``last_event_id`` (query), or from the start;
    then live ones until the run ends."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Workflow Runs", "A run's events as SSE, resumable after Last-Event-ID",
        query=doc.WorkflowEventsQuery, responses={doc.SSE: OpenApiTypes.STR},
        path_uuid=["workflow_run_id"],
    )  # fmt: skip
    def get(self, request: Request, workflow_run_id: str) -> HttpResponseBase:
        self.require_modes(GRAPH_MODES, NotWorkflowApp)
        user = self.user_value(request)
        run = selectors.run_get_for_user(app=self.app, run_id=workflow_run_id, user=user)
        last = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
        after = services.parse_last_event_id(last)
        return services.run_events_stream(run, after=after)
