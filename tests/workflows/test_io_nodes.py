"""http-request, tool, document-extractor and knowledge-retrieval nodes, end to end."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.extract import extract_text
from apps.workflows.engine.ports import Ports, ToolResult
from tests.workflows.fakes import FakeFileReader, FakeRetriever, FakeToolInvoker
from tests.workflows.fakes_http import PNG, UrllibHttpClient, echo_server
from tests.workflows.helpers import RunResult, graph, run, run_dsl_file

OUTPUTS = ("status_code", "body", "headers", "files")


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with echo_server() as url:
        yield url


def file_obj(key: str, filename: str, mime: str = "") -> dict[str, Any]:
    return {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "local_file",
        "upload_file_id": key,
        "filename": filename,
        "extension": "." + filename.rsplit(".", 1)[-1],
        "mime_type": mime,
        "size": 0,
    }


def run_http(data: dict[str, Any], inputs: dict[str, Any] | None = None, **ports: Any) -> RunResult:
    nodes = [
        {"id": "start", "type": "start", "variables": [{"variable": "v", "type": "text-input"}]},
        {"id": "http", "type": "http-request", "authorization": {"type": "no-auth"},
         "headers": "", "params": "", **data},
        {"id": "end", "type": "end", "outputs": [
            {"variable": o, "value_selector": ["http", o]} for o in OUTPUTS]},
    ]  # fmt: skip
    ports.setdefault("http_client", UrllibHttpClient())
    return run(graph(nodes, [("start", "http"), ("http", "end")]), inputs, ports=Ports(**ports))


def echoed(result: RunResult) -> dict[str, Any]:
    assert result.status == "succeeded", result.error
    return json.loads(result.outputs["body"])


# -- http-request -----------------------------------------------------------------------------
def test_http_request_dsl_templates_url_headers_params_auth_and_json_body(base: str) -> None:
    client = UrllibHttpClient()
    q = 'say "hi"\nthen go'
    inputs = {"base": base, "q": q, "n": 3, "trace": "t-1"}
    result = run_dsl_file("http_echo.yml", inputs, ports=Ports(http_client=client))
    echo = echoed(result)
    assert result.outputs["status"] == 200
    assert echo["method"] == "POST" and echo["path"] == "/echo/items"
    assert echo["query"] == [["q", q], ["limit", "10"], ["limit", "20"]]
    assert echo["headers"]["authorization"] == "Bearer s3cr3t-token"
    assert echo["headers"]["x-trace"] == "t-1"
    assert echo["headers"]["content-type"] == "application/json"
    assert json.loads(echo["body"]) == {"query": q, "n": 3, "tags": ["a"]}
    assert result.outputs["headers"]["x-echo"] == "yes"  # lower-case names, as Dify
    assert result.outputs["files"] == []
    assert client.calls[0]["timeout"] == 10
    log = result.node("http").process_data["request"]
    assert "s3cr3t-token" not in log and "Authorization: ****" in log


@pytest.mark.parametrize(
    ("config", "header", "expected"),
    [
        ({"type": "basic", "api_key": "ann:pw"}, "authorization", "Basic YW5uOnB3"),
        ({"type": "basic", "api_key": "YW5uOnB3"}, "authorization", "Basic YW5uOnB3"),
        ({"type": "bearer", "api_key": "{{#start.v#}}"}, "authorization", "Bearer key-1"),
        ({"type": "custom", "api_key": "{{#start.v#}}", "header": "X-Api-Key"}, "x-api-key",
         "key-1"),
    ],
)  # fmt: skip
def test_http_request_authorization_variants(
    base: str, config: dict[str, Any], header: str, expected: str
) -> None:
    data = {"method": "get", "url": base, "authorization": {"type": "api-key", "config": config}}
    assert echoed(run_http(data, {"v": "key-1"}))["headers"][header] == expected


def test_http_request_urlencoded_and_raw_text_bodies(base: str) -> None:
    form = {"type": "x-www-form-urlencoded", "data": [
        {"type": "text", "key": "name", "value": "{{#start.v#}}"},
        {"type": "text", "key": "n", "value": "1"}]}  # fmt: skip
    echo = echoed(run_http({"method": "post", "url": base, "body": form}, {"v": "a b&c"}))
    assert echo["body"] == "name=a+b%26c&n=1"
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"
    raw = {"type": "raw-text", "data": [{"type": "text", "value": "hello {{#start.v#}}"}]}
    echo = echoed(run_http({"method": "put", "url": base, "body": raw}, {"v": "you"}))
    assert (echo["method"], echo["body"]) == ("PUT", "hello you")
    assert echo["headers"]["content-type"] == "text/plain"


def test_http_request_form_data_with_file_and_binary_body(base: str) -> None:
    reader = FakeFileReader(files={"f1": b"file-bytes"})
    upload = file_obj("f1", "notes.txt", "text/plain")
    nodes_data = {
        "method": "post", "url": base + "/upload",
        "body": {"type": "form-data", "data": [
            {"type": "text", "key": "title", "value": "T {{#start.v#}}"},
            {"type": "file", "key": "doc", "file": ["start", "upload"]}]},
    }  # fmt: skip
    result = run_http(nodes_data, {"v": "x", "upload": upload}, file_reader=reader)
    echo = echoed(result)
    assert echo["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="title"\r\n\r\nT x\r\n' in echo["body"]
    assert 'name="doc"; filename="notes.txt"\r\nContent-Type: text/plain' in echo["body"]
    assert "file-bytes" in echo["body"]
    binary = {"type": "binary", "data": [{"type": "file", "file": ["start", "upload"]}]}
    echo = echoed(run_http({"method": "post", "url": base, "body": binary}, {"upload": upload},
                           file_reader=reader))  # fmt: skip
    assert base64.b64decode(echo["body_base64"]) == b"file-bytes"
    assert echo["headers"]["content-type"] == "text/plain"


def test_http_request_404_is_an_output_not_a_failure(base: str) -> None:
    result = run_http({"method": "get", "url": base + "/status/404"})
    assert result.status == "succeeded"
    assert result.outputs["status_code"] == 404
    assert json.loads(result.outputs["body"])["path"] == "/status/404"


def test_http_request_404_fails_when_the_node_has_an_error_strategy(base: str) -> None:
    data = {"method": "get", "url": base + "/status/404", "error_strategy": "default-value",
            "default_value": [{"key": "status_code", "type": "number", "value": 0}]}  # fmt: skip
    result = run_http(data)
    node = result.node("http")
    assert node.status == "exception"
    assert "Request failed with status code 404" in (node.error or "")


def test_http_request_timeout_is_a_clear_node_error(base: str) -> None:
    result = run_http({"method": "get", "url": base + "/slow", "timeout": {"read": 0.5}})
    assert result.status == "failed"
    assert "timed out after 0.5s" in (result.error or "")


def test_http_request_connection_error_and_bad_url() -> None:
    result = run_http({"method": "get", "url": "http://127.0.0.1:1/nothing"})
    assert result.status == "failed" and "HTTP request failed" in (result.error or "")
    result = run_http({"method": "get", "url": "ftp://{{#start.v#}}"}, {"v": "x"})
    assert "url should start with http:// or https://" in (result.error or "")


def test_http_request_file_answers_become_files(base: str) -> None:
    result = run_http({"method": "get", "url": base + "/image"})
    assert result.outputs["body"] == ""
    [image] = result.outputs["files"]
    assert (image["type"], image["mime_type"], image["size"]) == ("image", "image/png", len(PNG))
    assert base64.b64decode(image["content_base64"]) == PNG
    [report] = run_http({"method": "get", "url": base + "/download"}).outputs["files"]
    assert (report["filename"], report["extension"]) == ("report.csv", ".csv")


def test_http_request_bad_config_names_the_field() -> None:
    with pytest.raises(GraphValidationError, match="method"):
        run_http({"method": "fetch", "url": "http://x"})
    with pytest.raises(GraphValidationError, match=r"authorization\.config\.type"):
        run_http({"method": "get", "url": "http://x",
                  "authorization": {"type": "api-key", "config": {"type": "oauth"}}})  # fmt: skip


# -- tool -------------------------------------------------------------------------------------
def test_tool_dsl_resolves_mixed_variable_and_constant_parameters() -> None:
    def forecast(**params: Any) -> ToolResult:
        return ToolResult(text=f"{params['query']}: sunny", json=[{"days": params["days"]}])

    invoker = FakeToolInvoker(tools={("weather", "forecast"): forecast})
    result = run_dsl_file("tool_weather.yml", {"city": "Oslo", "days": 2},
                          ports=Ports(tool_invoker=invoker))  # fmt: skip
    assert result.status == "succeeded", result.error
    assert result.outputs == {
        "text": "Weather in Oslo please: sunny", "json": [{"days": 2}], "files": []}  # fmt: skip
    call = invoker.calls[0]
    assert (call["provider_type"], call["provider_id"], call["tool_name"]) == (
        "builtin", "weather", "forecast")  # fmt: skip
    expected = {"units": "metric", "query": "Weather in Oslo please", "days": 2, "detailed": True}
    assert call["parameters"] == expected


def test_tool_unknown_tool_imports_but_fails_at_run_time_naming_it() -> None:
    result = run_dsl_file("tool_weather.yml", {"city": "Oslo", "days": 2},
                          ports=Ports(tool_invoker=FakeToolInvoker()))  # fmt: skip
    assert result.status == "failed"
    assert "tool invoke error" in (result.error or "") and "forecast" in (result.error or "")


def test_tool_exception_becomes_tool_invoke_error() -> None:
    def broken(**params: Any) -> str:
        raise RuntimeError("quota exhausted")

    invoker = FakeToolInvoker(tools={("weather", "forecast"): broken})
    result = run_dsl_file("tool_weather.yml", {"city": "Oslo", "days": 1},
                          ports=Ports(tool_invoker=invoker))  # fmt: skip
    assert "tool invoke error: weather/forecast: quota exhausted" in (result.error or "")


# -- document-extractor -----------------------------------------------------------------------
def make_pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)  # fmt: skip
    return bytes(out)


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Quarterly report")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["item", "qty"], ["apples", "3"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("The end")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Fruit"
    for row in (["name", "price"], ["apple", 1.5], [None, None], ["pear", 2]):
        sheet.append(row)
    workbook.create_sheet("Empty")
    other = workbook.create_sheet("People")
    other.append(["who"])
    other.append(["Ann | Bo"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


DOCUMENTS = {
    "a.txt": (b"plain text", "plain text"),
    "b.md": ("# Título\n".encode(), "# Título\n"),
    "c.html": (b"<html><head><style>p{}</style></head><body><h1>Hi</h1><p>one &amp; two"
               b"</p><script>x()</script></body></html>", "Hi\none & two"),
    "d.csv": (b"a,b\n1,2\n", "| a | b |\n| --- | --- |\n| 1 | 2 |"),
    "e.json": (b'{"k":[1,2]}', '{\n  "k": [\n    1,\n    2\n  ]\n}'),
    "f.yaml": (b"k: v\nlist: [1, 2]\n", "k: v\nlist:\n- 1\n- 2"),
    "g.pdf": (make_pdf("Hello PDF world"), "Hello PDF world"),
    "h.docx": (make_docx(), "Quarterly report\n| item | qty |\n| --- | --- |\n"
               "| apples | 3 |\nThe end"),
    "i.xlsx": (make_xlsx(), "## Fruit\n\n| name | price |\n| --- | --- |\n| apple | 1.5 |\n"
               "| pear | 2 |\n\n## People\n\n| who |\n| --- |\n| Ann \\| Bo |"),
}  # fmt: skip


def test_document_extractor_dsl_extracts_every_supported_format() -> None:
    reader = FakeFileReader(files={name: content for name, (content, _) in DOCUMENTS.items()})
    docs = [file_obj(name, name) for name in DOCUMENTS]
    result = run_dsl_file("docextract_files.yml", {"docs": docs}, ports=Ports(file_reader=reader))
    assert result.status == "succeeded", result.error
    assert result.outputs["texts"] == [expected for _, expected in DOCUMENTS.values()]


def extract_graph(reader: FakeFileReader, value: Any) -> RunResult:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "variables": [{"variable": "doc", "type": "file"}]},
        {"id": "x", "type": "document-extractor", "variable_selector": ["start", "doc"]},
        {"id": "end", "type": "end",
         "outputs": [{"variable": "t", "value_selector": ["x", "text"]}]},
    ]  # fmt: skip
    return run(graph(nodes, [("start", "x"), ("x", "end")]), {"doc": value},
               ports=Ports(file_reader=reader))  # fmt: skip


def test_document_extractor_single_file_gives_a_string_and_mime_fallback() -> None:
    reader = FakeFileReader(files={"k": b"a,b\n"})
    result = extract_graph(
        reader, {**file_obj("k", "upload"), "extension": "", "mime_type": "text/csv"}
    )
    assert result.outputs["t"] == "| a | b |\n| --- | --- |"


def test_document_extractor_unsupported_type_names_the_extension() -> None:
    result = extract_graph(FakeFileReader(files={"k": b"\x00"}), file_obj("k", "slides.key"))
    assert result.status == "failed"
    assert "slides.key: unsupported file type: .key" in (result.error or "")
    result = extract_graph(FakeFileReader(files={"k": b"%PDF-broken"}), file_obj("k", "x.pdf"))
    assert "cannot extract text from x.pdf" in (result.error or "")


def test_extract_text_registry_reads_by_extension_or_mime() -> None:
    assert extract_text(b"x", extension=".TXT") == "x"
    assert extract_text(b"<b>bold</b> text", mime_type="text/html; charset=utf-8") == "bold text"


# -- knowledge-retrieval ----------------------------------------------------------------------
CHUNKS = [
    {"content": "cats purr and sleep", "title": "cats.md",
     "metadata": {"dataset_id": "ds-pets", "dataset_name": "Pets", "document_id": "d1",
                  "document_name": "cats.md", "segment_id": "s1"}},
    {"content": "cats and dogs play together", "title": "mix.md",
     "metadata": {"dataset_id": "ds-plants", "document_id": "d2", "segment_id": "s2"}},
    {"content": "cats dogs play", "title": "other.md",
     "metadata": {"dataset_id": "ds-other", "document_id": "d3", "segment_id": "s3"}},
]  # fmt: skip


def test_knowledge_retrieval_dsl_returns_ranked_result_with_positions() -> None:
    retriever = FakeRetriever(chunks=CHUNKS)
    result = run_dsl_file("knowledge_search.yml", {"question": "do cats play", "lang": " en\n"},
                          ports=Ports(retriever=retriever))  # fmt: skip
    assert result.status == "succeeded", result.error
    items = result.outputs["result"]
    assert [i["metadata"]["segment_id"] for i in items] == ["s2", "s1"]
    assert [i["metadata"]["position"] for i in items] == [1, 2]
    assert items[1]["metadata"]["_source"] == "knowledge" and items[1]["title"] == "cats.md"
    query = retriever.queries[0]
    assert query["dataset_ids"] == ["ds-pets", "ds-plants"]
    config = query["config"]
    assert (config["retrieval_mode"], config["top_k"], config["reranking_mode"]) == (
        "multiple", 3, "weighted_score")  # fmt: skip
    assert config["weights"]["keyword_setting"] == {"keyword_weight": 0.3}
    assert config["metadata_filtering_conditions"]["conditions"][0]["value"] == "en"


def test_knowledge_retrieval_empty_query_fails_like_dify() -> None:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "variables": [{"variable": "q", "type": "text-input"}]},
        {"id": "kr", "type": "knowledge-retrieval", "query_variable_selector": ["start", "q"],
         "dataset_ids": ["ds-pets"], "retrieval_mode": "multiple"},
    ]  # fmt: skip
    retriever = FakeRetriever(chunks=CHUNKS)
    result = run(graph(nodes, [("start", "kr")]), {"q": ""}, ports=Ports(retriever=retriever))
    assert result.status == "failed" and "Query is required." in (result.error or "")
    assert retriever.queries == []


def test_knowledge_retrieval_config_errors_name_the_field() -> None:
    base_node: dict[str, Any] = {"id": "kr", "type": "knowledge-retrieval",
                 "query_variable_selector": ["sys", "query"], "dataset_ids": ["d"]}  # fmt: skip
    cases: list[tuple[dict[str, Any], str]] = [
        ({"retrieval_mode": "single"}, "single_retrieval_config.model"),
        ({"multiple_retrieval_config": {"top_k": 0}}, r"multiple_retrieval_config\.top_k"),
        ({"multiple_retrieval_config": {"top_k": 2, "reranking_mode": "weighted_score"}},
         r"multiple_retrieval_config\.weights"),
    ]  # fmt: skip
    for extra, field in cases:
        with pytest.raises(GraphValidationError, match=field):
            graph([{"id": "start", "type": "start"}, {**base_node, **extra}], [("start", "kr")])
