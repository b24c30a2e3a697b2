from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import HttpRequest

from apps.tenants import services
from apps.tenants.models import ApiKey, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here through the service; the whole key is shown once."""

    list_display = ["prefix", "type", "workspace", "app", "created_at", "last_used_at"]
    list_filter = ["type"]
    search_fields = ["prefix", "workspace__name", "app__name"]
    fields = ["workspace", "type", "app", "prefix", "created_at", "last_used_at"]
    autocomplete_fields = ["workspace", "app"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["prefix", "created_at", "last_used_at"]
        return fixed + (["workspace", "type", "app"] if obj else [])

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # keys are immutable; delete and create a new one instead
        api_key, raw = services.api_key_create(
            workspace=obj.workspace,
            key_type=obj.type,
            app=obj.app,
            created_by=cast(User, request.user),
        )
        obj.pk = api_key.pk
        obj.key_hash, obj.prefix, obj.created_at = (
            api_key.key_hash,
            api_key.prefix,
            api_key.created_at,
        )
        messages.warning(request, f"New API key (copy it now, it is not shown again): {raw}")
