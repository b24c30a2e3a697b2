"""Text from document bytes, by file extension (or MIME type). Pure: no I/O, no Django.

``EXTRACTORS`` maps an extension (no dot, lower case) to ``fn(content: bytes) -> str``; the
document-extractor node and knowledge-base ingestion share it. Tables (csv, xlsx, docx
tables) come out as Markdown tables, as Dify's document extractor writes them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from html.parser import HTMLParser
from typing import Any

import yaml

Extractor = Callable[[bytes], str]


class ExtractionError(ValueError):
    """The file could not be turned into text (corrupt, wrong encoding, ...)."""


class UnsupportedFileType(ExtractionError):
    def __init__(self, extension: str):
        self.extension = extension
        super().__init__(f"unsupported file type: {extension or '(no extension)'}")


def decode_text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"the file is not UTF-8 text ({exc.reason})") from exc


def markdown_table(rows: Sequence[Sequence[Any]]) -> str:
    """First row as the header; cells escaped so the table stays one cell per column."""
    if not rows:
        return ""
    width = max(len(row) for row in rows)

    def line(row: Sequence[Any]) -> str:
        cells = [_cell(value) for value in row] + [""] * (width - len(row))
        return "| " + " | ".join(cells) + " |"

    lines = [line(rows[0]), "| " + " | ".join(["---"] * width) + " |"]
    lines.extend(line(row) for row in rows[1:])
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


# -- extractors -------------------------------------------------------------------------------
def extract_plain(content: bytes) -> str:
    return decode_text(content)


class _HTMLText(HTMLParser):
    SKIP = frozenset({"script", "style", "noscript", "template", "head"})
    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
         "article", "header", "footer", "blockquote", "pre", "table", "ul", "ol", "hr"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        return "\n".join(line for line in lines if line)


def extract_html(content: bytes) -> str:
    parser = _HTMLText()
    parser.feed(decode_text(content))
    parser.close()
    return parser.text()


def extract_csv(content: bytes) -> str:
    try:
        rows = [row for row in csv.reader(io.StringIO(decode_text(content))) if row]
    except csv.Error as exc:
        raise ExtractionError(f"invalid CSV: {exc}") from exc
    return markdown_table(rows)


def extract_json(content: bytes) -> str:
    try:
        data = json.loads(decode_text(content))
    except json.JSONDecodeError as exc:
        raise ExtractionError(f"invalid JSON: {exc}") from exc
    return json.dumps(data, indent=2, ensure_ascii=False)


def extract_yaml(content: bytes) -> str:
    try:
        documents = list(yaml.safe_load_all(decode_text(content)))
    except yaml.YAMLError as exc:
        raise ExtractionError(f"invalid YAML: {exc}") from exc
    return yaml.dump_all(documents, allow_unicode=True, sort_keys=False).strip()


def extract_pdf(content: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ExtractionError(f"cannot read PDF: {exc}") from exc
    return "\n".join(page.strip("\n") for page in pages).strip()


def extract_docx(content: bytes) -> str:
    """Paragraphs and tables in document order; tables as Markdown."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as exc:
        raise ExtractionError(f"cannot read DOCX: {exc}") from exc
    parts: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(child, document).text)
        elif tag == "tbl":
            table = Table(child, document)
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            parts.append(markdown_table(rows))
    return "\n".join(parts).strip()


def extract_xlsx(content: bytes) -> str:
    """Each sheet as ``## <sheet name>`` and a Markdown table; empty rows dropped."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        raise ExtractionError(f"cannot read XLSX: {exc}") from exc
    sheets = []
    try:
        for sheet in workbook.worksheets:
            rows = _non_empty_rows(sheet.iter_rows(values_only=True))
            if rows:
                sheets.append(f"## {sheet.title}\n\n{markdown_table(rows)}")
    finally:
        workbook.close()
    return "\n\n".join(sheets)


def _non_empty_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    kept = [list(row) for row in rows if any(v not in (None, "") for v in row)]
    while kept and kept[0] and all(row[-1] in (None, "") for row in kept):  # empty last column
        kept = [row[:-1] for row in kept]
    return kept


EXTRACTORS: dict[str, Extractor] = {
    "txt": extract_plain,
    "text": extract_plain,
    "md": extract_plain,
    "markdown": extract_plain,
    "mdx": extract_plain,
    "xml": extract_plain,
    "html": extract_html,
    "htm": extract_html,
    "csv": extract_csv,
    "json": extract_json,
    "yaml": extract_yaml,
    "yml": extract_yaml,
    "pdf": extract_pdf,
    "docx": extract_docx,
    "xlsx": extract_xlsx,
}

MIME_EXTENSIONS: dict[str, str] = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/xml": "xml",
    "application/xml": "xml",
    "text/html": "html",
    "text/csv": "csv",
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def normalize_extension(extension: str | None) -> str:
    return (extension or "").strip().lower().lstrip(".")


def extension_for(*, extension: str | None = None, mime_type: str | None = None) -> str:
    """The registry key for a file: its extension if we know it, else its MIME type's."""
    ext = normalize_extension(extension)
    if ext in EXTRACTORS:
        return ext
    mime = (mime_type or "").split(";")[0].strip().lower()
    if mime in MIME_EXTENSIONS:
        return MIME_EXTENSIONS[mime]
    raise UnsupportedFileType(f".{ext}" if ext else mime)


def extract_text(
    content: bytes, *, extension: str | None = None, mime_type: str | None = None
) -> str:
    """Text of a document; raises UnsupportedFileType / ExtractionError."""
    return EXTRACTORS[extension_for(extension=extension, mime_type=mime_type)](content)
