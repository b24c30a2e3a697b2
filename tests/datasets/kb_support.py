"""Helpers of the indexing / retrieval / command suites: a workspace with MiniLM as its
default embedding model, and small documents of every type (pdf via pypdf, docx via
python-docx)."""

from __future__ import annotations

import io
from pathlib import Path

from apps.datasets import services
from apps.datasets.models import Dataset
from apps.providers.services import default_model_set
from apps.tenants.models import Workspace
from tests.factories import make_workspace

FACTS = {
    "txt": "The lighthouse keeper Oswin Marlow polished the great brass lens every dawn "
    "so that ships could pass the reef of Kestrel Point safely.",
    "md": "# Volcanoes\n\nMagma that reaches the surface is called lava; the Kilauea volcano "
    "on Hawaii has erupted almost continuously since 1983.",
    "html": "<html><head><title>t</title><style>p{}</style></head><body><h1>Bees</h1>"
    "<p>Honey bees communicate the direction of flowers to their hive mates with a "
    "waggle dance.</p></body></html>",
    "csv": "planet,moons\nJupiter,95\nSaturn,146\nNeptune,16\n",
    "pdf": "Penguins of the Antarctic huddle together in winter to survive freezing winds.",
    "docx": "The violin maker Antonio Stradivari crafted his instruments in Cremona, Italy.",
}
QUESTIONS = {
    "txt": "Who cleaned the lighthouse lens?",
    "md": "Which volcano has been erupting since 1983?",
    "html": "How do honey bees tell other bees where flowers are?",
    "csv": "How many moons does Saturn have?",
    "pdf": "How do penguins survive the cold Antarctic winter?",
    "docx": "Where did Stradivari build violins?",
}


def embedded_workspace(name: str | None = None) -> Workspace:
    workspace = make_workspace(name)
    default_model_set(
        workspace=workspace,
        model_type="text-embedding",
        provider_name="minilm",
        model="all-MiniLM-L6-v2",
    )
    return workspace


def make_dataset(workspace: Workspace, name: str = "Docs", **fields: object) -> Dataset:
    return services.dataset_create(workspace=workspace, name=name, **fields)  # type: ignore[arg-type]


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica (pypdf writes it; extractable)."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream.set_data(f"BT /F1 11 Tf 40 700 Td ({escaped}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Instruments", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_corpus(folder: Path) -> dict[str, Path]:
    """One small file per type in ``folder`` (csv and html in a sub-folder)."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    paths = {
        "txt": folder / "keeper.txt",
        "md": folder / "volcano.md",
        "html": folder / "sub" / "bees.html",
        "csv": folder / "sub" / "moons.csv",
        "pdf": folder / "penguins.pdf",
        "docx": folder / "violins.docx",
    }
    for kind, path in paths.items():
        if kind == "pdf":
            path.write_bytes(pdf_bytes(FACTS[kind]))
        elif kind == "docx":
            path.write_bytes(docx_bytes(FACTS[kind]))
        else:
            path.write_text(FACTS[kind], encoding="utf-8")
    return paths
