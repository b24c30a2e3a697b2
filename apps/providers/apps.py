from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "apps.providers"
    label = "providers"
    verbose_name = "Model providers"

    def ready(self) -> None:
        from django.conf import settings

        from apps.providers import checks  # noqa: F401  (registers the system check)
        from apps.providers.runtime import register_builtin_providers
        from apps.tools.outbound import provider_http_client

        # tenants set base URLs: every connection goes through the SSRF guard
        register_builtin_providers(
            timeout=settings.PROVIDER_REQUEST_TIMEOUT,
            max_retries=settings.PROVIDER_MAX_RETRIES,
            http_client_factory=provider_http_client,
        )
