"""Provider credentials in the admin: per-provider fields, secrets masked, real validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.core.admin_mixins import CREDENTIAL_STATUS_FIELDS, ProviderCredentialAdminMixin
from apps.core.errors import AppError
from apps.providers import services
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from apps.providers.runtime import providers
from apps.tenants.models import Workspace

_RELOAD_ON_CHANGE = "window.location.search = '?provider=' + this.value;"


def _provider_choices() -> list[tuple[str, str]]:
    return [(p.name, f"{p.label} ({p.name})") for p in providers.all()]


class ProviderCredentialForm(forms.ModelForm):
    """Fields are built from the chosen provider's credential schema."""

    provider = forms.ChoiceField(choices=_provider_choices)
    validate = forms.BooleanField(
        required=False, initial=True, help_text="Check the credentials with a real call first"
    )

    class Meta:
        model = ProviderCredential
        fields = ["workspace", "provider"]

    def __init__(self, *args: Any, provider_name: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = _provider_choices()
        editing = not self.instance._state.adding  # (a new row already has its UUID pk)
        name = self.instance.provider if editing else provider_name
        name = name or _provider_choices()[0][0]
        self.fields["provider"].initial = name
        self.fields["provider"].widget.attrs["onchange"] = _RELOAD_ON_CHANGE
        if editing:
            self.fields["provider"].disabled = True
            self.fields["workspace"].disabled = True
        self.provider_runtime = services.provider_get(name)
        current = services.provider_credentials_masked(self.instance) if editing else {}
        for spec in self.provider_runtime.credential_schema:
            field: forms.Field
            if spec.is_secret:
                hint = (
                    f" Stored: {current[spec.name]} (leave blank to keep)."
                    if spec.name in current
                    else ""
                )
                field = forms.CharField(
                    required=spec.required and spec.name not in current,
                    widget=forms.PasswordInput(render_value=False),
                    help_text=(spec.help or "") + hint,
                )
            else:
                field = forms.CharField(
                    required=spec.required,
                    initial=current.get(spec.name, spec.default or ""),
                    help_text=spec.help or spec.placeholder,
                )
            field.label = spec.label
            self.fields[f"cred_{spec.name}"] = field

    def credentials(self) -> dict[str, str]:
        return {
            spec.name: self.cleaned_data.get(f"cred_{spec.name}", "")
            for spec in self.provider_runtime.credential_schema
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace: Workspace | None = cleaned.get("workspace") or getattr(
            self.instance, "workspace", None
        )
        if workspace is None or self.errors:
            return cleaned
        self.validated = bool(cleaned.get("validate"))
        try:
            self.prepared = services.provider_credentials_prepare(
                workspace=workspace,
                provider_name=self.provider_runtime.name,
                credentials=self.credentials(),
                validate=self.validated,
            )
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(ProviderCredentialAdminMixin, admin.ModelAdmin):
    form = ProviderCredentialForm
    list_display = ["provider", "workspace", "is_valid", "last_validated_at", "updated_at"]
    list_filter = ["provider", "is_valid"]
    search_fields = ["workspace__name", "provider"]
    readonly_fields = CREDENTIAL_STATUS_FIELDS
    actions = ["validate_credentials"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.provider_credentials_store(
            workspace=obj.workspace,
            provider_name=form.provider_runtime.name,
            cleaned=form.prepared,
            validated=form.validated,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description="Credentials (masked)")
    def masked_credentials(self, obj: ProviderCredential) -> str:
        values = services.provider_credentials_masked(obj)
        return format_html_join("", "<div><b>{}</b>: {}</div>", values.items())

    @admin.action(description="Validate credentials with a real call")
    def validate_credentials(self, request: HttpRequest, queryset: QuerySet) -> None:
        for credential in queryset:
            ok, error = services.provider_credentials_validate(credential=credential)
            if ok:
                self.message_user(request, f"{credential.provider}: credentials are valid")
            else:
                self.message_user(
                    request, f"{credential.provider}: validation failed: {error}", messages.ERROR
                )


class DefaultModelForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=_provider_choices)

    class Meta:
        model = DefaultModel
        fields = ["workspace", "model_type", "provider", "model"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            services.default_model_check(
                workspace=cleaned["workspace"],
                model_type=cleaned["model_type"],
                provider_name=cleaned["provider"],
                model=cleaned["model"],
            )
        except AppError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


@admin.register(DefaultModel)
class DefaultModelAdmin(admin.ModelAdmin):
    form = DefaultModelForm
    list_display = ["workspace", "model_type", "provider", "model", "updated_at"]
    list_filter = ["model_type", "provider"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.default_model_set(
            workspace=obj.workspace,
            model_type=obj.model_type,
            provider_name=obj.provider,
            model=obj.model,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()


class ModelPriceForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=_provider_choices)

    class Meta:
        model = ModelPrice
        fields = ["workspace", "provider", "model", "input_price", "output_price", "unit",
                  "currency"]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and Decimal(cleaned.get("unit") or 0) <= 0:
            raise forms.ValidationError("unit must be more than 0 (0.000001: per million tokens)")
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Prices of models that have no list price (self-hosted, gateways) or another one;
    messages and workflow LLM nodes report their cost with them."""

    form = ModelPriceForm
    list_display = ["workspace", "provider", "model", "input_price", "output_price", "unit",
                    "currency", "updated_at"]  # fmt: skip
    list_filter = ["provider", "currency"]
    search_fields = ["model", "workspace__name"]
    autocomplete_fields = ["workspace"]
