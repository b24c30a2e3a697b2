from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.views import health

admin.site.site_header = "Dify-compatible platform"
admin.site.site_title = "Platform admin"

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("console/api/", include("apps.tenants.api.urls")),
    path("console/api/", include("apps.providers.api.urls")),
    path("console/api/", include("apps.workflows.api.console_urls")),
    path("console/api/", include("apps.tools.api.urls")),
    path("v1/", include("apps.workflows.service_api.urls")),
    path("chat/", include("apps.workflows.web.urls")),
    path("v1/", include("apps.datasets.api.urls")),
]

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
