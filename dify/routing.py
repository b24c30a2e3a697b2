"""WebSocket routes (Channels). Apps add their consumers here."""

from typing import Any

from django.urls import path

from apps.workflows.consumers import ServiceStreamConsumer

websocket_urlpatterns: list[Any] = [
    path("v1/ws/chat", ServiceStreamConsumer.as_asgi()),
]
