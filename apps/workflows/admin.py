from django.contrib import admin

from apps.workflows.models import App


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "workspace", "enable_api", "created_at"]
    list_filter = ["mode", "enable_api"]
    search_fields = ["name", "id", "workspace__name"]
    readonly_fields = ["id", "created_at", "updated_at"]
    autocomplete_fields = ["workspace"]
