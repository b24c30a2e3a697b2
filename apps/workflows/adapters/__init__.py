"""Django-side implementations of the engine's ports, for one workspace."""

from __future__ import annotations

from apps.tenants.models import Workspace
from apps.workflows.adapters.code import code_runner
from apps.workflows.adapters.http import GuardedHttpPort
from apps.workflows.adapters.models import WorkspaceModelPort
from apps.workflows.engine.ports import Ports


def ports_for(workspace: Workspace) -> Ports:
    """Every port the engine can use in this workspace."""
    from apps.datasets.retriever_port import DatasetRetrieverPort
    from apps.tools.invoker import WorkspaceToolInvoker
    from apps.workflows.file_services import UploadFileReader

    return Ports(
        model_runtime=WorkspaceModelPort(workspace),
        code_runner=code_runner(),
        http_client=GuardedHttpPort(),
        file_reader=UploadFileReader(workspace),
        retriever=DatasetRetrieverPort(workspace),
        tool_invoker=WorkspaceToolInvoker(workspace),
    )
