from __future__ import annotations

from django.contrib.auth.models import User

from apps.core.errors import InvalidParam
from apps.tenants.models import Workspace
from apps.workflows.models import App


def app_create(
    *,
    workspace: Workspace,
    name: str,
    mode: str,
    description: str = "",
    created_by: User | None = None,
) -> App:
    name = name.strip()
    if not name:
        raise InvalidParam("name: app name must not be empty")
    if mode not in App.Mode.values:
        raise InvalidParam(f"mode: must be one of {', '.join(App.Mode.values)}")
    return App.objects.create(
        workspace=workspace, name=name, mode=mode, description=description, created_by=created_by
    )
