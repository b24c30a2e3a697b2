"""code node: output checks, the subprocess runner (Python + JavaScript) and the
dify-sandbox protocol client (against a loopback fake that executes nothing)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.workflows.engine.errors import GraphValidationError, NodeError
from apps.workflows.engine.nodes.code import check_outputs
from apps.workflows.engine.ports import Ports
from apps.workflows.sandbox import RemoteSandboxRunner, SubprocessCodeRunner, wrap_code
from tests.workflows.helpers import graph, run, run_dsl_file

START = {"id": "start", "type": "start", "variables": [{"variable": "x", "type": "number"}]}
RUNNER = SubprocessCodeRunner(timeout=10)


class CannedRunner:
    def __init__(self, result: Any):
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def run(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> Any:
        self.calls.append({"language": language, "code": code, "inputs": dict(inputs)})
        return self.result


def _code_graph(
    outputs: dict[str, Any], code: str = "def main(x):\n    return {}", **extra: Any
) -> Any:
    node = {
        "id": "code",
        "type": "code",
        "code_language": "python3",
        "code": code,
        "variables": [{"variable": "x", "value_selector": ["start", "x"]}],
        "outputs": outputs,
        **extra,
    }
    return graph([START, node], [("start", "code")])


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "language"), [("code_python.yml", "python"), ("code_javascript.yml", "javascript")]
)
def test_code_dsl_files_run_end_to_end(name: str, language: str) -> None:
    ports = Ports(code_runner=RUNNER)
    result = run_dsl_file(name, {"a": 2, "b": 5, "name": "Ada Lovelace"}, ports=ports)
    assert result.status == "succeeded", result.error
    assert result.outputs == {
        "sum": 7,
        "greeting": "Hello, Ada Lovelace!",
        "even": False,
        "parts": ["Ada", "Lovelace"],
        "range": [2, 3, 4],
        "info": {"language": language, "nested": {"ok": True}},
    }
    assert "ignored" not in result.node("code").outputs
    assert result.node("code").inputs == {"a": 2, "b": 5, "name": "Ada Lovelace"}


def test_runtime_error_fails_the_node_with_the_last_traceback_line() -> None:
    code = "def main(x):\n    return {'y': x / 0}"
    g = _code_graph({"y": {"type": "number"}}, code)
    result = run(g, {"x": 1}, ports=Ports(code_runner=RUNNER))
    assert result.status == "failed"
    assert result.node("code").status == "failed"
    assert result.node("code").error == "ZeroDivisionError: division by zero"


def test_missing_code_runner_port_is_a_clear_error() -> None:
    result = run(_code_graph({}), {"x": 1})
    assert "no code_runner configured" in (result.error or "")


# -- output checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "result", "message"),
    [
        ({"s": {"type": "string"}}, {"s": 3}, "Output variable `s` must be a string"),
        ({"n": {"type": "number"}}, {"n": "3"}, "Output variable `n` must be a number"),
        ({"n": {"type": "number"}}, {"n": True}, "Output variable `n` must be a number"),
        ({"b": {"type": "boolean"}}, {"b": 1}, "Output variable `b` must be a boolean"),
        ({"o": {"type": "object"}}, {"o": []}, "Output o is not an object, got list instead."),
        ({"a": {"type": "array[string]"}}, {"a": "x"}, "Output a is not an array, got str"),
        ({"a": {"type": "array[string]"}}, {"a": ["x", 1]}, "`a[1]` must be a string"),
        ({"a": {"type": "array[number]"}}, {"a": [1, "2"]}, "`a[1]` must be a number"),
        ({"a": {"type": "array[boolean]"}}, {"a": [True, 0]}, "`a[1]` must be a boolean"),
        ({"a": {"type": "array[object]"}}, {"a": [{}, 5]}, "Output a[1] is not an object"),
        ({"a": {"type": "array[string]"}}, {"a": ["x"] * 31}, "must be less than 30 elements"),
        ({"s": {"type": "string"}}, {"s": "x" * 400_001}, "must be less than 400000 characters"),
        ({"s": {"type": "string"}}, {}, "Output s is missing."),
        (
            {"o": {"type": "object", "children": {"inner": {"type": "number"}}}},
            {"o": {"inner": "no"}},
            "Output variable `o.inner` must be a number",
        ),
        ({"o": {"type": "object"}}, {"o": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, "Depth limit 5"),
    ],
)  # fmt: skip
def test_output_type_errors_fail_the_run(schema: dict[str, Any], result: Any, message: str) -> None:
    g = _code_graph(schema)
    finished = run(g, {"x": 1}, ports=Ports(code_runner=CannedRunner(result)))
    assert finished.status == "failed"
    assert message in (finished.node("code").error or "")


def test_outputs_keep_declared_keys_and_allow_null() -> None:
    schema = {
        "s": {"type": "string", "children": None},
        "o": {"type": "object", "children": {"k": {"type": "string", "children": None}}},
        "free": {"type": "object", "children": None},
    }
    g = _code_graph(schema)
    canned = {"s": None, "o": {"k": "v", "extra": 1}, "free": {"a": [1, "b"]}, "dropped": 1}
    runner = CannedRunner(canned)
    result = run(g, {"x": 4}, ports=Ports(code_runner=runner))
    assert result.node("code").outputs == {"s": None, "o": {"k": "v"}, "free": {"a": [1, "b"]}}
    assert runner.calls == [
        {"language": "python3", "code": g.nodes["code"].code, "inputs": {"x": 4}}
    ]
    assert check_outputs({"n": 1.5}, {"n": {"type": "number", "children": None}}) == {"n": 1.5}


@pytest.mark.parametrize(
    ("outputs", "extra", "field"),
    [
        ({}, {"code_language": "ruby"}, "code_language"),
        ({"r": {"type": "date"}}, {}, "outputs.r.type"),
        ({}, {"code": None}, "code"),
        ({}, {"variables": [{"variable": "x", "value_selector": "oops"}]}, "variables[0]"),
    ],
)
def test_bad_dsl_names_the_field(
    outputs: dict[str, Any], extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(GraphValidationError, match=field.replace("[", r"\[")):
        _code_graph(outputs, **extra)


# -- the subprocess runner -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "message"),
    [
        ("python3", "def main(:\n    pass", "SyntaxError"),
        ("python3", "def main():\n    raise ValueError('bad input')", "ValueError: bad input"),
        (
            "python3",
            "def main():\n    return [1]",
            "main() must return a dict (object), got an array",
        ),
        ("python3", "def helper():\n    pass", "NameError: name 'main' is not defined"),
        ("python3", "def main():\n    return {'s': {1, 2}}", "TypeError: Object of type set"),
        ("javascript", "function main() { throw new Error('boom') }", "Error: boom"),
        ("javascript", "function main( {", "SyntaxError"),
        ("javascript", "function main() { return 'text' }", "got str"),
        ("javascript", "function main() { return undefinedThing.x }", "ReferenceError"),
        ("ruby", "def main; end", "unsupported code language 'ruby'"),
    ],
)
def test_subprocess_runner_errors(language: str, code: str, message: str) -> None:
    with pytest.raises(NodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RUNNER.run(language=language, code=code, inputs={})


def test_subprocess_runner_javascript_async_and_unicode() -> None:
    code = "async function main({word}) { return {shout: word.toUpperCase() + ' ✓'} }"
    assert RUNNER.run(language="javascript", code=code, inputs={"word": "héllo"}) == {
        "shout": "HÉLLO ✓"
    }


def test_subprocess_runner_user_prints_do_not_confuse_the_result() -> None:
    code = (
        "def main(a):\n    print('<<RESULT>>{\"fake\": 1}<<RESULT>> {braces}')\n    return {'a': a}"
    )
    assert RUNNER.run(language="python3", code=code, inputs={"a": [1, None]}) == {"a": [1, None]}


def test_subprocess_runner_timeout_and_output_cap() -> None:
    quick = SubprocessCodeRunner(timeout=1)
    with pytest.raises(NodeError, match="timed out after 1 seconds"):
        quick.run(language="python3", code="def main():\n    while True:\n        pass", inputs={})
    with pytest.raises(NodeError, match="timed out"):
        quick.run(language="javascript", code="function main() { for (;;) {} }", inputs={})
    small = SubprocessCodeRunner(max_output=1000)
    with pytest.raises(NodeError, match="larger than 1000 bytes"):
        small.run(
            language="python3", code="def main():\n    print('x' * 5000)\n    return {}", inputs={}
        )


def test_subprocess_runner_has_no_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_SECRET_FOR_TEST", "do-not-leak")
    code = "import os\ndef main():\n    return {'env': dict(os.environ), 'cwd': os.getcwd()}"
    result = RUNNER.run(language="python3", code=code, inputs={})
    assert "APP_SECRET_FOR_TEST" not in result["env"]
    assert set(result["env"]) <= {"PATH", "LANG", "HOME", "LC_CTYPE"}
    assert "wf-code-" in result["cwd"]
    js = "function main() { return {keys: Object.keys(process.env), cwd: process.cwd()} }"
    js_result = RUNNER.run(language="javascript", code=js, inputs={})
    assert "APP_SECRET_FOR_TEST" not in js_result["keys"]


# -- the dify-sandbox client -----------------------------------------------------------------


class _FakeSandbox(BaseHTTPRequestHandler):
    answers: list[tuple[int, Any]] = []
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append(
            {"path": self.path, "api_key": self.headers.get("X-Api-Key"), "json": json.loads(body)}
        )
        status, answer = type(self).answers.pop(0)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sandbox() -> Iterator[tuple[str, type[_FakeSandbox]]]:
    handler = type("Handler", (_FakeSandbox,), {"answers": [], "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()


def test_remote_sandbox_protocol(sandbox: tuple[str, type[_FakeSandbox]]) -> None:
    url, handler = sandbox
    stdout = 'hello\n<<RESULT>>{"y": 2}<<RESULT>>\n'
    handler.answers.append(
        (200, {"code": 0, "message": "success", "data": {"stdout": stdout, "error": ""}})
    )
    runner = RemoteSandboxRunner(url, "sandbox-key")
    assert runner.run(language="javascript", code="function main({x}) {}", inputs={"x": 1}) == {
        "y": 2
    }
    request = handler.requests[0]
    assert request["path"] == "/v1/sandbox/run"
    assert request["api_key"] == "sandbox-key"
    body = request["json"]
    assert (body["language"], body["preload"], body["enable_network"]) == ("nodejs", "", False)
    assert body["code"] == wrap_code("javascript", "function main({x}) {}", {"x": 1})
    assert base64.b64encode(b'{"x": 1}').decode() in body["code"]


def test_remote_sandbox_in_a_workflow_and_its_errors(
    sandbox: tuple[str, type[_FakeSandbox]],
) -> None:
    url, handler = sandbox
    runner = RemoteSandboxRunner(url, "k")
    ok = {"stdout": '<<RESULT>>{"y": "ok"}<<RESULT>>', "error": ""}
    failed = {"stdout": "", "error": "Traceback...\nKeyError: 'q'\n"}
    handler.answers += [
        (200, {"code": 0, "message": "success", "data": ok}),
        (200, {"code": 0, "message": "success", "data": failed}),
        (200, {"code": -400, "message": "unauthorized", "data": None}),
        (503, {"code": -503, "message": "busy"}),
        (500, {}),
    ]  # fmt: skip
    g = _code_graph({"y": {"type": "string"}})
    assert run(g, {"x": 1}, ports=Ports(code_runner=runner)).node("code").outputs == {"y": "ok"}
    assert handler.requests[0]["json"]["language"] == "python3"
    for message in ["KeyError: 'q'", "Got error code: -400. Got error msg: unauthorized",
                    "Code execution service is unavailable", "got status code 500"]:  # fmt: skip
        with pytest.raises(NodeError, match=message.replace(".", r"\.")):
            runner.run(language="python3", code="", inputs={})


def test_remote_sandbox_unreachable() -> None:
    runner = RemoteSandboxRunner("http://127.0.0.1:9", "k", timeout=2)
    with pytest.raises(NodeError, match="likely a network issue"):
        runner.run(language="python3", code="", inputs={})
