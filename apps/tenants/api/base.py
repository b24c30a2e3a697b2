"""Console API base view: session auth, current workspace, role permission."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.tenants.models import Membership, Workspace
from apps.tenants.roles import Permission
from apps.tenants.selectors import membership_for

WORKSPACE_HEADER = "X-Workspace-Id"


class ConsoleContextMixin:
    """For signed-in members. The workspace comes from ``X-Workspace-Id`` (or the member's
    first workspace); ``required_permission`` (per method if a dict) is checked against the
    member's role before the handler runs."""

    authentication_classes: Any = [SessionAuthentication]
    permission_classes: Any = [IsAuthenticated]
    required_permission: Permission | dict[str, Permission] = Permission.USE_APPS

    membership: Membership
    workspace: Workspace

    @property
    def user(self) -> User:
        """The signed-in account (IsAuthenticated has run, so never anonymous)."""
        return cast(User, self.request.user)  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.membership = membership_for(request.user, request.headers.get(WORKSPACE_HEADER))
        self.workspace = self.membership.workspace
        needed = self.required_permission
        if isinstance(needed, dict):
            needed = needed.get(request.method or "GET", Permission.USE_APPS)
        if not self.membership.allows(needed):
            raise PermissionDenied(
                f"your role ({self.membership.role}) does not allow this ({needed.value})"
            )


class ConsoleAPIView(ConsoleContextMixin, APIView):
    """A console endpoint (see ConsoleContextMixin)."""


class ConsoleViewSet(ConsoleContextMixin, viewsets.GenericViewSet):
    """A console viewset (browsable through DRF's router)."""
