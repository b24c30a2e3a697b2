"""Admin pieces shared by the per-provider credential pages (model providers, built-in tools)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

CREDENTIAL_STATUS_FIELDS = ["masked_credentials", "is_valid", "last_validated_at", "last_error"]


class ProviderCredentialAdminMixin:
    """The form's fields depend on the provider (``?provider=`` on add, the row on change):
    the form gets ``provider_name`` and declares its own fields; a saved row also shows its
    masked credentials and validation status."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        kwargs["fields"] = None  # the form declares its own (per-provider) fields
        base = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        provider_name = request.GET.get("provider") or request.POST.get("provider")

        class BoundForm(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any):
                super().__init__(*args, provider_name=provider_name, **kw)

        return BoundForm

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        form = self.get_form(request, obj)(instance=obj)
        return list(form.fields) + (CREDENTIAL_STATUS_FIELDS if obj else [])
