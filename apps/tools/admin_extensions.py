"""Admin of API-based extensions: the key is write-only, a save pings the endpoint first."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.errors import AppError
from apps.tools import api_extensions as extensions
from apps.tools.models import ApiBasedExtension


class ApiBasedExtensionForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Sent as Authorization: Bearer <key>. Leave blank to keep the stored key.",
    )
    validate = forms.BooleanField(
        required=False, initial=True, help_text='Check the endpoint answers the "ping" point'
    )

    class Meta:
        model = ApiBasedExtension
        fields = ["workspace", "name", "api_endpoint"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        editing = not self.instance._state.adding
        if not editing and not cleaned.get("api_key"):
            raise forms.ValidationError("api_key is required")
        try:
            if editing:
                fresh = ApiBasedExtension.objects.get(pk=self.instance.pk)
                self.saved = extensions.api_extension_update(
                    extension=fresh, name=cleaned["name"], api_endpoint=cleaned["api_endpoint"],
                    api_key=cleaned.get("api_key"), validate=bool(cleaned.get("validate")),
                )  # fmt: skip
            else:
                self.saved = extensions.api_extension_create(
                    workspace=cleaned["workspace"], name=cleaned["name"],
                    api_endpoint=cleaned["api_endpoint"], api_key=cleaned["api_key"],
                    validate=bool(cleaned.get("validate")),
                )  # fmt: skip
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(ApiBasedExtension)
class ApiBasedExtensionAdmin(admin.ModelAdmin):
    form = ApiBasedExtensionForm
    list_display = ["name", "workspace", "api_endpoint", "updated_at"]
    search_fields = ["name", "api_endpoint", "workspace__name"]
    autocomplete_fields = ["workspace"]
    actions = ["ping"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.pk = form.saved.pk  # saved by the form (the service pings and encrypts)
        obj.refresh_from_db()

    @admin.action(description='Ping the endpoint ("ping" point)')
    def ping(self, request: HttpRequest, queryset: QuerySet) -> None:
        for extension in queryset:
            try:
                extensions.api_extension_client_for(extension).ping()
            except AppError as exc:
                self.message_user(request, f"{extension.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{extension.name}: pong")
