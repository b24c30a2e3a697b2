"""document-extractor: the text of a file variable (or of each file in a list).

Output ``text`` is a string for one file and a list of strings for a list of files, as in
Dify. Bytes come from the FileReader port; the formats live in ``engine/extract.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..errors import NodeError
from ..extract import ExtractionError, UnsupportedFileType, extract_text
from ..ports import FileReader
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext


def file_name(file: Mapping[str, Any]) -> str:
    return str(file.get("filename") or file.get("name") or file.get("id") or "file")


def file_extension(file: Mapping[str, Any]) -> str:
    extension = file.get("extension")
    if extension:
        return str(extension)
    return os.path.splitext(str(file.get("filename") or ""))[1]


@register
class DocumentExtractorNode(Node):
    node_type = "document-extractor"

    def parse(self) -> None:
        self.variable_selector = self.selector("variable_selector")

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        name = ".".join(self.variable_selector)
        if not pool.has(self.variable_selector):
            raise NodeError(f"file variable {name} not found")
        value = pool.get(self.variable_selector)
        inputs = {"variable_selector": list(self.variable_selector)}
        if value is None:
            raise NodeError(f"file variable {name} is empty")
        if isinstance(value, Mapping):
            documents = [value]
        elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
            documents = list(value)
        else:
            raise NodeError(f"variable {name} is not a file or a list of files")
        texts: list[str] = []
        if documents:
            reader: FileReader = self.port(ctx, "file_reader")
            texts = [self._extract(reader, document) for document in documents]
        process_data = {"documents": [_describe(document) for document in documents]}
        text: str | list[str] = texts if isinstance(value, list) else texts[0]
        return NodeResult(inputs=inputs, process_data=process_data, outputs={"text": text})

    def _extract(self, reader: FileReader, file: Mapping[str, Any]) -> str:
        name = file_name(file)
        try:
            content = reader.read(file)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"cannot read file {name}: {exc}") from exc
        try:
            return extract_text(
                content, extension=file_extension(file), mime_type=file.get("mime_type")
            )
        except UnsupportedFileType as exc:
            raise NodeError(f"{name}: {exc}") from exc
        except ExtractionError as exc:
            raise NodeError(f"cannot extract text from {name}: {exc}") from exc


def _describe(file: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("filename", "extension", "mime_type", "size", "transfer_method", "type")
    return {key: file.get(key) for key in keys if key in file}
