from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _schedule_periodic_tasks(sender: AppConfig, **kwargs: Any) -> None:
    from apps.datasets.tasks import ensure_periodic_tasks

    ensure_periodic_tasks()


class DatasetsConfig(AppConfig):
    name = "apps.datasets"
    label = "datasets"
    verbose_name = "Knowledge bases"

    def ready(self) -> None:
        # the stale-indexing re-queue runs every minute under django-celery-beat
        post_migrate.connect(_schedule_periodic_tasks, sender=self)
