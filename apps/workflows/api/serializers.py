from __future__ import annotations

from rest_framework import serializers

from apps.workflows.models import App


class AppSerializer(serializers.ModelSerializer):
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "id",
            "name",
            "mode",
            "description",
            "icon",
            "icon_background",
            "enable_api",
            "enable_site",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_created_at(self, obj: App) -> int:
        return int(obj.created_at.timestamp())


class AppCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    mode = serializers.ChoiceField(choices=App.Mode.values)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AppInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    mode = serializers.CharField()
    author_name = serializers.CharField()
