"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dify.settings")

from apps.core.asgi_handler import get_one_hop_asgi_application

# One thread hop per request for the (sync) middleware chain and view: see the module.
django_asgi_app = get_one_hop_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dify.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
