from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "apps.providers"
    label = "providers"
    verbose_name = "Model providers"

    def ready(self) -> None:
        from apps.providers import checks  # noqa: F401  (registers the system check)
        from apps.providers.runtime import register_builtin_providers

        register_builtin_providers()
