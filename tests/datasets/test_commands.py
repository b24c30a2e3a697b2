"""ingest / reindex / retry_indexing: a folder of mixed files, summaries, failures."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.datasets import retrieval
from apps.datasets.models import Document
from tests.datasets.kb_support import QUESTIONS, embedded_workspace, make_dataset, write_corpus

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines(), err.getvalue()


def test_ingest_a_folder_of_mixed_files_and_find_each_fact(tmp_path):
    workspace = embedded_workspace("Main")
    dataset = make_dataset(workspace, "Corpus")
    write_corpus(tmp_path)
    lines, err = run("ingest", "Corpus", str(tmp_path), "--recursive", "--workspace", "Main")
    summary = json.loads(lines[-1])
    assert summary["documents"] == 6 and summary["failed"] == 0 and summary["chunks"] >= 6
    assert summary["tokens"] > 0 and "6 documents" in lines[-2]
    assert "[6/6]" in err and "completed" in err
    assert len({d.batch for d in Document.objects.filter(dataset=dataset)}) == 1
    for kind, question in QUESTIONS.items():
        found = retrieval.retrieve(
            workspace=workspace, dataset_ids=[str(dataset.pk)], query=question,
            retrieval_model={"search_method": "hybrid_search", "top_k": 3},
        )  # fmt: skip
        assert found and found[0].segment.document.file_extension == kind, (kind, found)


def test_ingest_reports_failed_files_and_exits_1(tmp_path):
    dataset = make_dataset(embedded_workspace(), "Mixed", indexing_technique="economy")
    (tmp_path / "good.txt").write_text("Some good text about rivers.")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "skip.exe").write_bytes(b"MZ")  # not an extractable type: not picked up
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("ingest", str(dataset.pk), str(tmp_path), "--chunk-size", "200",
                     stdout=out, stderr=err)  # fmt: skip
    assert "1 of 2" in str(info.value)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["documents"] == 1 and summary["failed"] == 1
    assert "bad.pdf" in err.getvalue() and "PDF" in err.getvalue()
    document = Document.objects.get(dataset=dataset, name="good.txt")
    assert document.process_rule["mode"] == "custom"


def test_ingest_unknown_dataset_is_a_one_line_error(tmp_path):
    with pytest.raises(CommandError, match="not found"):
        run("ingest", "Nowhere", str(tmp_path))


def test_reindex_and_retry_indexing(tmp_path):
    dataset = make_dataset(embedded_workspace(), "Re", indexing_technique="economy")
    (tmp_path / "a.txt").write_text("Alpha text.")
    (tmp_path / "b.txt").write_text("Beta text.")
    run("ingest", "Re", str(tmp_path))
    lines, _ = run("reindex", "Re")
    assert json.loads(lines[-1])["statuses"] == {"completed": 2}
    old = timezone.now() - timedelta(hours=1)
    a, b = Document.objects.filter(dataset=dataset).order_by("name")
    Document.objects.filter(pk=a.pk).update(indexing_status="error", error="x")
    Document.objects.filter(pk=b.pk).update(indexing_status="indexing", heartbeat_at=old)
    lines, _ = run("retry_indexing", str(dataset.pk))
    assert json.loads(lines[-1]) == {"retried": 2, "completed": 2, "error": 0}
    assert dataset.segments.count() == 2
