"""Console API for apps and workflows (session auth; browsable through DRF)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam, NotFound
from apps.tenants.api.base import ConsoleAPIView, ConsoleViewSet
from apps.tenants.roles import Permission
from apps.workflows import dsl_services, run_services, selectors
from apps.workflows.api.serializers import (
    AppSerializer,
    AppUpdateSerializer,
    DraftRunSerializer,
    DraftWorkflowSerializer,
    DSLImportSerializer,
    NodeExecutionSerializer,
    WorkflowRunSerializer,
)
from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.graph import parse_graph
from apps.workflows.models import App, Workflow, WorkflowRun
from apps.workflows.payloads import event_payload
from apps.workflows.sse import sse_response

EDIT = {
    "GET": Permission.USE_APPS,
    "POST": Permission.EDIT_APPS,
    "PUT": Permission.EDIT_APPS,
    "PATCH": Permission.EDIT_APPS,
    "DELETE": Permission.EDIT_APPS,
}


class AppViewSet(ConsoleViewSet):
    """``/console/api/apps/<id>``: read, change, delete, export; import a DSL file."""

    required_permission = EDIT
    serializer_class = AppSerializer
    lookup_field = "pk"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model
            return App.objects.none()
        return selectors.apps_list(workspace=self.workspace)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AppSerializer(self._app(pk)).data)

    @extend_schema(request=AppUpdateSerializer, responses=AppSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        app = self._app(pk)
        body = AppUpdateSerializer(app, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        for field, value in body.validated_data.items():
            setattr(app, field, value)
        app.save()
        return Response(AppSerializer(app).data)

    def destroy(self, request: Request, pk: str) -> Response:
        self._app(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        include = request.query_params.get("include_secret") == "true"
        text = dsl_services.app_export_dsl(app=self._app(pk), include_secrets=include)
        return Response({"data": text})

    @extend_schema(request=DSLImportSerializer, responses=AppSerializer)
    @action(detail=False, methods=["post"], url_path="imports")
    def imports(self, request: Request) -> Response:
        body = DSLImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = dsl_services.app_import_dsl(
            workspace=self.workspace,
            text=body.validated_data["yaml_content"],
            created_by=self.user,
            name=body.validated_data.get("name") or None,
            publish=body.validated_data["publish"],
        )
        data = {**AppSerializer(result.app).data, "warnings": result.warnings}
        return Response(data, status=status.HTTP_201_CREATED)

    def _app(self, pk: str) -> App:
        return selectors.app_get(workspace=self.workspace, app_id=pk)


class DraftWorkflowView(ConsoleAPIView):
    required_permission = EDIT

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, app_id: str) -> Response:
        workflow = self._draft(app_id)
        return Response(_workflow_data(workflow))

    @extend_schema(request=DraftWorkflowSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, app_id: str) -> Response:
        app = selectors.app_get(workspace=self.workspace, app_id=app_id)
        body = DraftWorkflowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            parse_graph(body.validated_data["graph"], mode=app.mode)
        except GraphValidationError as exc:
            raise InvalidParam("graph: " + "; ".join(exc.problems)) from exc
        with transaction.atomic():
            previous = Workflow.objects.filter(
                workspace=self.workspace, app=app, version=Workflow.DRAFT
            ).first()
            workflow, _ = Workflow.objects.update_or_create(
                workspace=self.workspace,
                app=app,
                version=Workflow.DRAFT,
                defaults={
                    "type": "chat" if app.mode == "advanced-chat" else "workflow",
                    "graph": body.validated_data["graph"],
                    "features": body.validated_data["features"],
                    "environment_variables": dsl_services.seal_secrets(
                        body.validated_data["environment_variables"],
                        previous.environment_variables if previous else None,
                    ),
                    "conversation_variables": body.validated_data["conversation_variables"],
                    "created_by": self.user,
                },
            )
        return Response({"result": "success", "updated_at": int(workflow.updated_at.timestamp())})

    def _draft(self, app_id: str) -> Workflow:
        app = selectors.app_get(workspace=self.workspace, app_id=app_id)
        return run_services.workflow_for_run(app=app, draft=True)


class PublishWorkflowView(ConsoleAPIView):
    required_permission = Permission.EDIT_APPS

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, app_id: str) -> Response:
        app = selectors.app_get(workspace=self.workspace, app_id=app_id)
        published = run_services.workflow_publish(app=app, created_by=self.user)
        return Response({"result": "success", "version": published.version})


class DraftRunView(ConsoleAPIView):
    """Run the draft and stream its events (like Dify's console debugger)."""

    required_permission = Permission.EDIT_APPS

    @extend_schema(
        request=DraftRunSerializer, responses={(200, "text/event-stream"): OpenApiTypes.STR}
    )
    def post(self, request: Request, app_id: str) -> StreamingHttpResponse:
        app = selectors.app_get(workspace=self.workspace, app_id=app_id)
        body = DraftRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        handle = run_services.workflow_run_start(
            app=app,
            inputs=body.validated_data["inputs"],
            account=self.user,
            draft=True,
            triggered_from="debugging",
            query=body.validated_data["query"],
        )

        def produce() -> Iterator[dict[str, Any]]:
            for event in handle.events():
                payload = event_payload(
                    event, task_id=handle.id, workflow_run_id=handle.id,
                    workflow_id=str(handle.workflow.pk),
                )  # fmt: skip
                if payload is not None:
                    yield payload

        return sse_response(produce)


class WorkflowRunViewSet(ConsoleViewSet):
    """``/console/api/apps/<app_id>/workflow-runs``: runs with their node executions."""

    serializer_class = WorkflowRunSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model
            return WorkflowRun.objects.none()
        app = selectors.app_get(workspace=self.workspace, app_id=self.kwargs["app_id"])
        return WorkflowRun.objects.for_workspace(self.workspace).filter(app=app)

    def list(self, request: Request, app_id: str) -> Response:
        runs = self.get_queryset().order_by("-created_at")[: _limit(request)]
        return Response({"data": WorkflowRunSerializer(runs, many=True).data})

    def retrieve(self, request: Request, app_id: str, pk: str) -> Response:
        run = self.get_queryset().filter(pk=_uuid(pk)).first()
        if run is None:
            raise NotFound("workflow run not found")
        nodes = run.node_executions.order_by("index")
        return Response(
            {
                **WorkflowRunSerializer(run).data,
                "node_executions": NodeExecutionSerializer(nodes, many=True).data,
            }
        )


def _workflow_data(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": str(workflow.pk),
        "version": workflow.version,
        "graph": workflow.graph,
        "features": workflow.features,
        "environment_variables": dsl_services.environment_masked(workflow),
        "conversation_variables": workflow.conversation_variables,
        "updated_at": int(workflow.updated_at.timestamp()),
    }


def _limit(request: Request) -> int:
    try:
        return max(1, min(100, int(request.query_params.get("limit", 20))))
    except ValueError as exc:
        raise InvalidParam("limit must be a number between 1 and 100") from exc


def _uuid(value: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise NotFound("workflow run not found") from exc
