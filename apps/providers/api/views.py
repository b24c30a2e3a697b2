"""Console API for model providers (paths follow Dify's console API)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam
from apps.providers import services
from apps.providers.models import MODEL_TYPE_CHOICES, ProviderCredential
from apps.providers.runtime import providers
from apps.tenants.api.base import ConsoleAPIView
from apps.tenants.roles import Permission

MODEL_TYPE = OpenApiParameter(
    "model_type", OpenApiTypes.STR, "query", enum=[c for c, _ in MODEL_TYPE_CHOICES]
)


class CredentialsSerializer(serializers.Serializer):
    credentials = serializers.DictField(child=serializers.CharField(allow_blank=True))
    validate = serializers.BooleanField(default=True)  # type: ignore[assignment]


class ModelSettingSerializer(serializers.Serializer):
    model_type = serializers.ChoiceField(choices=[c for c, _ in MODEL_TYPE_CHOICES])
    provider = serializers.CharField()
    model = serializers.CharField()


class DefaultModelsSerializer(serializers.Serializer):
    model_settings = ModelSettingSerializer(many=True)


class ModelProviderListView(ConsoleAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        configured = {
            c.provider: c for c in ProviderCredential.objects.for_workspace(self.workspace)
        }
        can_manage = self.membership.allows(Permission.MANAGE_PROVIDERS)
        data: list[dict[str, Any]] = []
        for provider in providers.all():
            credential = configured.get(provider.name)
            item: dict[str, Any] = {
                "provider": provider.name,
                "label": provider.label,
                "supported_model_types": [t.value for t in provider.supported_model_types],
                "credential_schema": [
                    {"name": f.name, "label": f.label, "type": f.type, "required": f.required}
                    for f in provider.credential_schema
                ],
                "configured": credential is not None,
                "is_valid": credential.is_valid if credential else None,
            }
            if credential is not None and can_manage:
                item["credentials"] = services.provider_credentials_masked(credential)
            data.append(item)
        return Response({"data": data})


class ProviderCredentialView(ConsoleAPIView):
    required_permission = Permission.MANAGE_PROVIDERS

    @extend_schema(request=CredentialsSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, provider: str) -> Response:
        body = CredentialsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        credential = services.provider_credentials_set(
            workspace=self.workspace,
            provider_name=provider,
            credentials=body.validated_data["credentials"],
            validate=body.validated_data["validate"],
        )
        return Response(
            {
                "result": "success",
                "provider": credential.provider,
                "is_valid": credential.is_valid,
                "credentials": services.provider_credentials_masked(credential),
            }
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        services.provider_credentials_delete(workspace=self.workspace, provider_name=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkspaceModelListView(ConsoleAPIView):
    @extend_schema(parameters=[MODEL_TYPE], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        model_type = request.query_params.get("model_type")
        if model_type and model_type not in dict(MODEL_TYPE_CHOICES):
            raise InvalidParam(f"model_type: unknown model type {model_type!r}")
        models = services.models_list(workspace=self.workspace, model_type=model_type)
        return Response(
            {
                "data": [
                    {
                        "provider": m.provider,
                        "model": m.model,
                        "model_type": m.model_type,
                        "is_default": m.is_default,
                        "features": list(m.info.features),
                    }
                    for m in models
                ]
            }
        )


class DefaultModelView(ConsoleAPIView):
    required_permission = {"GET": Permission.USE_APPS, "POST": Permission.MANAGE_PROVIDERS}

    @extend_schema(parameters=[MODEL_TYPE], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        model_type = request.query_params.get("model_type", "")
        if model_type not in dict(MODEL_TYPE_CHOICES):
            raise InvalidParam("model_type: required, e.g. llm or text-embedding")
        default = services.default_model_get(workspace=self.workspace, model_type=model_type)
        data = (
            {"model_type": model_type, "provider": default.provider, "model": default.model}
            if default
            else None
        )
        return Response({"data": data})

    @extend_schema(request=DefaultModelsSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = DefaultModelsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        for setting in body.validated_data["model_settings"]:
            services.default_model_set(
                workspace=self.workspace,
                model_type=setting["model_type"],
                provider_name=setting["provider"],
                model=setting["model"],
            )
        return Response({"result": "success"})
