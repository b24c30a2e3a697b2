"""System check: every registered provider declares a usable name and schema."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register


@register()
def check_providers(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from apps.providers.runtime import providers

    errors: list[Error] = []
    for provider in providers.all():
        if not provider.name or not provider.name.replace("_", "").isalnum():
            errors.append(Error(f"provider name {provider.name!r} is not a plain identifier"))
        names = [f.name for f in provider.credential_schema]
        if len(names) != len(set(names)):
            errors.append(Error(f"provider {provider.name} declares a credential field twice"))
        if not provider.supported_model_types:
            errors.append(Error(f"provider {provider.name} supports no model type"))
    return errors
