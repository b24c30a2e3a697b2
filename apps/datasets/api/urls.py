"""Knowledge API routes (``/v1/datasets…``), Dify's paths; included under ``v1/``."""

from typing import Any

from django.urls import path
from rest_framework.views import APIView

from apps.datasets.api import datasets_views as ds
from apps.datasets.api import document_actions_views as da
from apps.datasets.api import documents_views as dv
from apps.datasets.api import metadata_views as mv
from apps.datasets.api import segments_views as sv

D = "datasets/<uuid:dataset_id>"
DOC = f"{D}/documents/<uuid:document_id>"
SEG = f"{DOC}/segments/<uuid:segment_id>"


def alias(view: type[APIView]) -> Any:
    """Dify's older underscore spellings: same view, left out of the OpenAPI schema."""
    aliased: type[APIView] = type(f"{view.__name__}Alias", (view,), {"schema": None})
    return aliased.as_view()


urlpatterns = [
    path("datasets", ds.DatasetListView.as_view(), name="kb-datasets"),
    path(D, ds.DatasetDetailView.as_view(), name="kb-dataset"),
    path(f"{D}/retrieve", ds.RetrieveView.as_view(), name="kb-retrieve"),
    path(f"{D}/document/create-by-text", dv.DocumentCreateByTextView.as_view()),
    path(f"{D}/document/create_by_text", alias(dv.DocumentCreateByTextView)),
    path(f"{D}/document/create-by-file", dv.DocumentCreateByFileView.as_view()),
    path(f"{D}/document/create_by_file", alias(dv.DocumentCreateByFileView)),
    path(f"{D}/documents", dv.DocumentListView.as_view(), name="kb-documents"),
    path(f"{D}/documents/status/<str:action>", da.DocumentStatusView.as_view()),
    path(f"{D}/documents/metadata", mv.DocumentMetadataView.as_view()),
    path(f"{D}/documents/<str:batch>/indexing-status", dv.IndexingStatusView.as_view()),
    path(DOC, dv.DocumentDetailView.as_view(), name="kb-document"),
    path(f"{DOC}/update-by-text", dv.DocumentUpdateByTextView.as_view()),
    path(f"{DOC}/update_by_text", alias(dv.DocumentUpdateByTextView)),
    path(f"{DOC}/update-by-file", dv.DocumentUpdateByFileView.as_view()),
    path(f"{DOC}/update_by_file", alias(dv.DocumentUpdateByFileView)),
    path(f"{DOC}/retry", da.DocumentRetryView.as_view()),
    path(f"{DOC}/processing/pause", da.DocumentPauseView.as_view()),
    path(f"{DOC}/processing/resume", da.DocumentResumeView.as_view()),
    path(f"{DOC}/segments", sv.SegmentListView.as_view(), name="kb-segments"),
    path(SEG, sv.SegmentDetailView.as_view(), name="kb-segment"),
    path(f"{SEG}/child_chunks", sv.ChildChunkListView.as_view()),
    path(f"{D}/metadata", mv.MetadataListView.as_view()),
    path(f"{D}/metadata/built-in", mv.BuiltInFieldsView.as_view()),
    path(f"{D}/metadata/built-in/<str:action>", mv.BuiltInActionView.as_view()),
    path(f"{D}/metadata/<uuid:metadata_id>", mv.MetadataDetailView.as_view()),
]
