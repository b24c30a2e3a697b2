"""WebSocket routes (Channels). Apps add their consumers here."""

from typing import Any

websocket_urlpatterns: list[Any] = []
