"""First start, like Dify's setup page: migrations, one admin account, a default workspace."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.tenants.models import Membership, Workspace
from apps.tenants.roles import Role


@dataclass(frozen=True)
class BootstrapResult:
    admin_email: str
    admin_password: str | None  # only when generated now: print it once
    workspace: Workspace


def bootstrap(*, migrate: bool = True) -> BootstrapResult:
    if migrate:
        call_command("migrate", interactive=False, verbosity=0)
    user_model = get_user_model()
    admin = user_model.objects.filter(is_superuser=True).order_by("date_joined").first()
    generated = None
    if admin is None:
        email = settings.ADMIN_EMAIL.strip().lower()
        password = settings.ADMIN_PASSWORD or None
        if password is None:
            generated = password = secrets.token_urlsafe(12)
        admin = user_model.objects.filter(username=email).first()
        if admin is None:
            admin = user_model.objects.create_superuser(
                username=email, email=email, password=password
            )
        else:
            admin.is_superuser = admin.is_staff = True
            admin.set_password(password)
            admin.save()
    workspace = Workspace.objects.order_by("created_at").first()
    if workspace is None:
        workspace = Workspace.objects.create(name=settings.DEFAULT_WORKSPACE_NAME)
        Membership.objects.create(workspace=workspace, user=admin, role=Role.OWNER)
    return BootstrapResult(admin_email=admin.email, admin_password=generated, workspace=workspace)
