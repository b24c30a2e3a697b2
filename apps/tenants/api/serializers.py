from __future__ import annotations

from rest_framework import serializers

from apps.tenants.models import ApiKey, Membership
from apps.tenants.roles import ASSIGNABLE_ROLES


class WorkspaceMembershipSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="workspace.id")
    name = serializers.CharField(source="workspace.name")
    status = serializers.CharField(source="workspace.status")
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "name", "status", "role", "created_at"]

    def get_created_at(self, obj: Membership) -> int:
        return int(obj.workspace.created_at.timestamp())


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]

    def get_created_at(self, obj: Membership) -> int:
        return int(obj.created_at.timestamp())


class MemberInviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES)


class ApiKeySerializer(serializers.ModelSerializer):
    token = serializers.CharField(source="prefix", read_only=True)
    app_id = serializers.UUIDField(read_only=True, allow_null=True)
    created_at = serializers.SerializerMethodField()
    last_used_at = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "type", "token", "app_id", "created_at", "last_used_at"]

    def get_created_at(self, obj: ApiKey) -> int:
        return int(obj.created_at.timestamp())

    def get_last_used_at(self, obj: ApiKey) -> int | None:
        return int(obj.last_used_at.timestamp()) if obj.last_used_at else None
