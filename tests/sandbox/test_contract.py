"""Dify's code-node contract through the sandbox: main(**inputs) in Python, main(inputs) in
JavaScript (a promise is awaited), a JSON object back, clear errors with the line."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.ports import Ports
from apps.workflows.sandbox import SandboxCodeRunner
from tests.workflows.helpers import run_dsl_file

UNICODE = {"word": "héllo wörld ✓ 你好 🚀", "n": 3, "items": [1, None, {"k": "v"}], "ok": True}


def test_python_main_gets_inputs_as_keyword_arguments(sandbox: SandboxCodeRunner) -> None:
    code = (
        "def main(word: str, n: int, items: list, ok: bool) -> dict:\n"
        "    return {'shout': word.upper() * n, 'items': items, 'ok': not ok, 'pi': 3.5}\n"
    )
    assert sandbox.run(language="python3", code=code, inputs=UNICODE) == {
        "shout": "HÉLLO WÖRLD ✓ 你好 🚀" * 3,
        "items": [1, None, {"k": "v"}],
        "ok": False,
        "pi": 3.5,
    }


def test_javascript_main_gets_one_inputs_object(sandbox: SandboxCodeRunner) -> None:
    code = "function main({word, n, items}) { return {shout: word.toUpperCase().repeat(n), items} }"
    assert sandbox.run(language="javascript", code=code, inputs=UNICODE) == {
        "shout": "HÉLLO WÖRLD ✓ 你好 🚀" * 3,
        "items": [1, None, {"k": "v"}],
    }


def test_javascript_promise_results_are_awaited(sandbox: SandboxCodeRunner) -> None:
    code = (
        "async function main({n}) {\n"
        "  await new Promise((resolve) => setTimeout(resolve, 10));\n"
        "  return {twice: n * 2};\n"
        "}"
    )
    assert sandbox.run(language="javascript", code=code, inputs={"n": 21}) == {"twice": 42}
    then = "function main() { return Promise.resolve({via: 'then'}) }"
    assert sandbox.run(language="javascript", code=then, inputs={}) == {"via": "then"}


def test_printing_does_not_disturb_the_result(sandbox: SandboxCodeRunner) -> None:
    code = "def main():\n    print('<<RESULT>>{\"fake\": 1}<<RESULT>>')\n    return {'real': 1}"
    assert sandbox.run(language="python3", code=code, inputs={}) == {"real": 1}
    js = "function main() { console.log('result {\"fake\": 1}'); return {real: 1} }"
    assert sandbox.run(language="javascript", code=js, inputs={}) == {"real": 1}


ERRORS = [
    ("python3", "def main():\n    x = 1\n    return {'y': x / 0}",
     "ZeroDivisionError: division by zero (line 3)"),
    ("python3", "def main(:\n    pass", "SyntaxError"),
    ("python3", "def helper():\n    pass", "NameError: name 'main' is not defined"),
    ("python3", "def main():\n    return [1]",
     "main() must return a dict (object), got an array"),
    ("python3", "def main():\n    return {'s': {1, 2}}",
     "TypeError: Object of type set is not JSON serializable"),
    ("python3", "import sys\ndef main():\n    sys.exit(3)", "SystemExit: 3 (line 3)"),
    ("javascript", "function main() {\n  return {t: undefinedThing.x}\n}",
     "ReferenceError: undefinedThing is not defined (line 2)"),
    ("javascript", "async function main() {\n\n  throw new Error('boom')\n}",
     "Error: boom (line 3)"),
    ("javascript", "function main( {", "SyntaxError"),
    ("javascript", "function main() { return 'text' }", "got str"),
    ("javascript", "function main() { return Promise.reject('nope') }", "Uncaught nope"),
    ("javascript", "function main() { process.exit(0) }",
     "the code called process.exit(0) before main() returned"),
    ("javascript", "async function main() { await new Promise(() => {}) }",
     "main() returned a promise that never settled"),
    ("python3", "import os\ndef main():\n    os._exit(0)",
     "the code exited before returning a result"),
    ("ruby", "def main; end", "unsupported code language 'ruby'"),
]  # fmt: skip


@pytest.mark.parametrize(("language", "code", "message"), ERRORS)
def test_errors_are_clear(
    sandbox: SandboxCodeRunner, language: str, code: str, message: str
) -> None:
    with pytest.raises(NodeError) as caught:
        sandbox.run(language=language, code=code, inputs={})
    assert message in str(caught.value)


def test_syntax_errors_name_their_line(sandbox: SandboxCodeRunner) -> None:
    with pytest.raises(NodeError, match=r"SyntaxError: .*\(line 3\)"):
        sandbox.run(language="python3", code="def main():\n    x = 1\n    y = = 2", inputs={})


def test_dsl_code_nodes_run_end_to_end_in_the_sandbox(sandbox: SandboxCodeRunner) -> None:
    for name, language in [("code_python.yml", "python"), ("code_javascript.yml", "javascript")]:
        ports = Ports(code_runner=sandbox)
        result = run_dsl_file(name, {"a": 2, "b": 5, "name": "Ada Lovelace"}, ports=ports)
        assert result.status == "succeeded", result.error
        assert result.outputs["info"] == {"language": language, "nested": {"ok": True}}
        assert result.outputs["sum"] == 7


def test_eight_threads_in_parallel_all_succeed(sandbox: SandboxCodeRunner) -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def call(index: int) -> None:
        try:
            if index % 2:
                code = "function main({i}) { return {i: i, lang: 'js'} }"
                results[index] = sandbox.run(language="javascript", code=code, inputs={"i": index})
            else:
                code = "def main(i):\n    return {'i': i, 'lang': 'py'}"
                results[index] = sandbox.run(language="python3", code=code, inputs={"i": index})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert results == {i: {"i": i, "lang": "js" if i % 2 else "py"} for i in range(8)}


def test_every_call_gets_a_fresh_process_and_tmp(sandbox: SandboxCodeRunner) -> None:
    """No job runs where another one ran: nothing the previous code left is there."""
    leave = (
        "import builtins, os\n"
        "def main():\n"
        "    builtins.LEFT_BEHIND = 'secret of tenant A'\n"
        "    open('/tmp/left-behind', 'w').write('secret of tenant A')\n"
        "    return {'pid': os.getpid()}\n"
    )
    look = (
        "import builtins, os\n"
        "def main():\n"
        "    return {'global': hasattr(builtins, 'LEFT_BEHIND'), 'tmp': os.listdir('/tmp')}\n"
    )
    for _ in range(3):
        sandbox.run(language="python3", code=leave, inputs={})
        assert sandbox.run(language="python3", code=look, inputs={}) == {"global": False, "tmp": []}
    js_leave = (
        "function main() {\n"
        "  globalThis.LEFT = 1;\n"
        "  require('fs').writeFileSync('/tmp/x', 'a');\n"
        "  return {};\n"
        "}"
    )
    js_look = (
        "function main() {\n"
        "  return {global: 'LEFT' in globalThis, tmp: require('fs').readdirSync('/tmp')};\n"
        "}"
    )
    sandbox.run(language="javascript", code=js_leave, inputs={})
    assert sandbox.run(language="javascript", code=js_look, inputs={}) == {
        "global": False,
        "tmp": [],
    }
