"""A chat answered from an annotation (annotation reply): the annotation's text is the
answer, without a model call; the hit is counted and kept in the history (linked to the
stored message) and ``message_end.metadata.annotation_reply`` names the annotation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from apps.workflows.annotation_index import AnnotationHit, annotation_hit_record

from .simple import direct_run
from .task import ChatTask

logger = logging.getLogger(__name__)


def annotation_run(hit: AnnotationHit) -> Any:
    """The ``run`` of a ChatTask whose query matched an annotation (any chat mode)."""
    answer = direct_run(hit.answer)

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        for event in answer(task):
            if event.get("event") == "message_end":
                try:
                    annotation_hit_record(hit, message=task.message, end_user=task.end_user)
                except Exception:  # the answer is given and stored already
                    logger.exception("recording the annotation hit failed")
                event["metadata"]["annotation_reply"] = hit.reply_metadata()
            yield event

    return run
