"""The built-in tool providers, each tool run with real inputs (HTTP ones against loopback
servers through the SSRF-guarded client)."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.tools.base import ToolContext, ToolError, ToolResult, coerce_parameters
from apps.tools.builtin import builtin_providers
from apps.tools.builtin.maths import evaluate
from apps.tools.http_guard import GuardedHttpClient, GuardPolicy
from apps.workflows.adapters.http import GuardedHttpPort


def run(
    provider: str, tool: str, parameters: Mapping[str, Any], ctx: ToolContext | None = None
) -> ToolResult:
    found = builtin_providers.get(provider)
    assert found is not None, provider
    builtin = found.tool(tool)
    assert builtin is not None, tool
    coerced = coerce_parameters(builtin.declaration, parameters)
    return builtin.invoke(coerced, ctx or ToolContext())


def loopback_ctx(credentials: Mapping[str, Any] | None = None) -> ToolContext:
    policy = GuardPolicy.from_lists(networks=["127.0.0.0/8"], timeout=5)
    return ToolContext(
        credentials=credentials or {}, http=GuardedHttpPort(GuardedHttpClient(policy))
    )


def guarded_ctx(credentials: Mapping[str, Any] | None = None) -> ToolContext:
    return ToolContext(credentials=credentials or {}, http=GuardedHttpPort(GuardedHttpClient()))


# -- registry -------------------------------------------------------------------------------
def test_providers_register_under_dify_names_and_describe_themselves():
    assert {"time", "webscraper", "maths", "json_process", "regex", "text_utils", "tavily"} <= set(
        builtin_providers.names()
    )
    assert builtin_providers.get("langgenius/time/time") is builtin_providers.get("time")
    for provider in builtin_providers:
        assert provider.declaration.to_dify()["name"] == provider.declaration.name
        for tool in provider.tools:
            described = tool.declaration.to_dify()
            assert described["llm_description"], tool.declaration.name
            schema = tool.declaration.llm_schema()
            assert schema["type"] == "object"


# -- time -----------------------------------------------------------------------------------
def test_current_time_uses_timezone_and_format():
    result = run("time", "current_time", {"timezone": "Asia/Tokyo", "format": "%Y|%Z"})
    year, zone = result.text.split("|")
    assert zone == "JST" and abs(int(year) - datetime.now(UTC).year) <= 1
    default = run("time", "current_time", {})
    datetime.strptime(default.text, "%Y-%m-%d %H:%M:%S")
    assert default.json[0]["timezone"] == "UTC"


def test_current_time_rejects_unknown_timezone_option():
    with pytest.raises(ToolError, match="timezone"):
        run("time", "current_time", {"timezone": "Mars/Olympus"})


def test_timezone_conversion_follows_dst_rules():
    result = run(
        "time",
        "timezone_conversion",
        {
            "current_time": "2024-7-1 12:0:0",
            "current_timezone": "Europe/Berlin",
            "target_timezone": "America/New_York",
        },
    )
    assert result.text == "2024-07-01 06:00:00"
    winter = run(
        "time",
        "timezone_conversion",
        {
            "current_time": "2024-01-01 12:00:00",
            "current_timezone": "Europe/Berlin",
            "target_timezone": "America/New_York",
        },
    )
    assert winter.text == "2024-01-01 06:00:00"
    shanghai_to_tokyo = run("time", "timezone_conversion", {"current_time": "2024-01-01 00:00:00"})
    assert shanghai_to_tokyo.text == "2024-01-01 01:00:00"


def test_timezone_conversion_errors_are_readable():
    with pytest.raises(ToolError, match="invalid timezone"):
        run(
            "time",
            "timezone_conversion",
            {"current_time": "2024-01-01 00:00:00", "current_timezone": "Nowhere/City"},
        )
    with pytest.raises(ToolError, match="invalid datetime"):
        run("time", "timezone_conversion", {"current_time": "yesterday-ish"})


def test_timestamps_round_trip():
    stamp = run("time", "localtime_to_timestamp", {"localtime": "2024-01-01 08:00:00"})
    assert stamp.text == "1704067200"  # 00:00 UTC
    local = run(
        "time", "timestamp_to_localtime", {"timestamp": "1704067200", "timezone": "Asia/Shanghai"}
    )
    assert local.text == "2024-01-01 08:00:00"
    assert run("time", "timestamp_to_localtime", {"timestamp": 0, "timezone": "UTC"}).text == (
        "1970-01-01 00:00:00"
    )


def test_weekday():
    result = run("time", "weekday", {"year": 2024, "month": 2, "day": 29})
    assert result.text == "February 29, 2024 is Thursday."
    with pytest.raises(ToolError, match="Invalid date"):
        run("time", "weekday", {"year": 2023, "month": 2, "day": 29})


# -- maths ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("7 // 2 + 7 % 2", 4),
        ("-3 + +5", 2),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("factorial(5) / comb(5, 2)", 12.0),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("2 ** -1", 0.5),
        ("10 ** 100", 10**100),
    ],
)
def test_eval_expression_computes(expression, expected):
    assert evaluate(expression) == pytest.approx(expected)


def test_eval_expression_answers_like_dify():
    result = run("maths", "eval_expression", {"expression": "2 * (3 + 4)"})
    assert result.text == 'The result of the expression "2 * (3 + 4)" is 14'
    assert result.json == [{"expression": "2 * (3 + 4)", "result": 14}]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('echo hi')", "not allowed"),
        ("().__class__.__bases__", "not allowed"),
        ("(1).real", "attribute access"),
        ("math.pi", "attribute access"),
        ("open('/etc/passwd')", "not allowed"),
        ("x + 1", "unknown name"),
        ("'a' * 10", "only numbers"),
        ("[1, 2][0]", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("9 ** 9 ** 9", "too large"),
        ("2 ** 100000", "too large"),
        ("10 ** 3000 * 10 ** 3000", "too large"),
        ("factorial(100000)", "too large"),
        ("pow(10, 10 ** 6)", "too large"),
        ("1e308 * 10", "too large"),
        ("exp(1000)", "too large"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "cannot compute"),
        ("2 ^ 3", "use \\*\\* for powers"),
        ("1 << 100000", "not allowed"),
        ("1 < 2", "not allowed"),
        ("True + 1", "only numbers"),
        ("1j", "only numbers"),
        ("round(10 ** 300, -10 ** 9)", "too large"),
        ("1 +" + "1 + " * 400 + "1", "longer than"),
        ("-" * 500 + "1", "complex"),
        ("", "empty"),
        ("1 +", "invalid expression"),
    ],
)
def test_eval_expression_refuses_unsafe_or_huge_input(expression, message):
    with pytest.raises(ToolError, match=message):
        evaluate(expression)


# -- json_process -----------------------------------------------------------------------------
DOC = json.dumps(
    {
        "user": {"name": "Ada", "langs": ["en", "fr"]},
        "items": [{"id": 1, "price": 5}, {"id": 2, "price": 15}],
        "note": "héllo wörld",
    }
)


def test_json_parse_extracts_with_jsonpath():
    assert (
        run("json_process", "parse", {"content": DOC, "json_filter": "$.user.name"}).text == "Ada"
    )
    ids = run("json_process", "parse", {"content": DOC, "json_filter": "$.items[*].id"})
    assert ids.text == "[1, 2]" and ids.json == [{"result": [1, 2]}]
    user = run("json_process", "json_parse", {"content": DOC, "json_filter": "user"})
    assert json.loads(user.text) == {"name": "Ada", "langs": ["en", "fr"]}
    assert user.json == [{"name": "Ada", "langs": ["en", "fr"]}]
    expensive = run(
        "json_process", "parse", {"content": DOC, "json_filter": "$.items[?(@.price > 10)].id"}
    )
    assert expensive.text == "2"
    ascii_off = run(
        "json_process", "parse", {"content": DOC, "json_filter": "$", "ensure_ascii": False}
    )
    assert "héllo" in ascii_off.text


def test_json_parse_reports_bad_json_and_bad_query():
    with pytest.raises(ToolError, match="not valid JSON"):
        run("json_process", "parse", {"content": "{nope", "json_filter": "$.a"})
    with pytest.raises(ToolError, match="invalid JSONPath"):
        run("json_process", "parse", {"content": DOC, "json_filter": "$.[[["})


def test_json_insert_into_object_array_and_new_path():
    merged = run(
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.user", "new_value": '{"age": 36}', "create_path": "False"},
    )
    assert json.loads(merged.text)["user"]["age"] == 36
    appended = run(
        "json_process", "json_insert", {"content": DOC, "query": "$.user.langs", "new_value": "de"}
    )
    assert json.loads(appended.text)["user"]["langs"] == ["en", "fr", "de"]
    inserted = run(
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.user.langs", "new_value": "de", "index": 0},
    )
    assert json.loads(inserted.text)["user"]["langs"] == ["de", "en", "fr"]
    created = run(
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.meta.source.kind", "new_value": "3", "create_path": "True"},
    )
    assert json.loads(created.text)["meta"] == {"source": {"kind": 3}}
    unchanged = run(
        "json_process", "json_insert", {"content": DOC, "query": "$.meta.kind", "new_value": "3"}
    )
    assert json.loads(unchanged.text) == json.loads(DOC)
    with pytest.raises(ToolError, match="non-object"):
        run("json_process", "json_insert", {"content": DOC, "query": "$.user", "new_value": "x"})


def test_json_replace_pattern_value_and_key():
    pattern = run(
        "json_process",
        "json_replace",
        {
            "content": DOC,
            "query": "$.user.langs[*]",
            "replace_pattern": "e",
            "replace_value": "E",
            "replace_model": "pattern",
        },
    )
    assert json.loads(pattern.text)["user"]["langs"] == ["En", "fr"]
    value = run(
        "json_process",
        "json_replace",
        {
            "content": DOC,
            "query": "$.items[*].price",
            "replace_value": "0",
            "replace_model": "value",
        },
    )
    assert [i["price"] for i in json.loads(value.text)["items"]] == ["0", "0"]
    decoded = run(
        "json_process",
        "json_replace",
        {
            "content": DOC,
            "query": "$.items[0].price",
            "replace_value": "7",
            "replace_model": "value",
            "value_decode": True,
        },
    )
    assert json.loads(decoded.text)["items"][0]["price"] == 7
    key = run(
        "json_process",
        "json_replace",
        {
            "content": DOC,
            "query": "$.user.name",
            "replace_value": "first_name",
            "replace_model": "key",
        },
    )
    assert list(json.loads(key.text)["user"]) == ["first_name", "langs"]
    with pytest.raises(ToolError, match="must be one of"):
        run(
            "json_process",
            "json_replace",
            {"content": DOC, "query": "$.a", "replace_value": "x", "replace_model": "regex"},
        )


def test_json_delete_keys_and_items():
    deleted = run("json_process", "json_delete", {"content": DOC, "query": "$.user.langs[0]"})
    assert json.loads(deleted.text)["user"]["langs"] == ["fr"]
    relative = run("json_process", "json_delete", {"content": DOC, "query": "note"})
    assert "note" not in json.loads(relative.text)
    filtered = run(
        "json_process", "json_delete", {"content": DOC, "query": "$.items[?(@.price > 10)]"}
    )
    assert json.loads(filtered.text)["items"] == [{"id": 1, "price": 5}]
    same = run("json_process", "json_delete", {"content": DOC, "query": "$.missing"})
    assert json.loads(same.text) == json.loads(DOC)


# -- regex and text utilities -----------------------------------------------------------------
def test_regex_extract_like_dify():
    result = run(
        "regex",
        "regex_extract",
        {"content": "Call 555-1234 or 555-9876.", "expression": r"\d{3}-\d{4}"},
    )
    assert result.text == "['555-1234', '555-9876']"
    assert result.json == [{"matches": ["555-1234", "555-9876"], "count": 2}]
    groups = run("regex", "regex_extract", {"content": "a=1, b=2", "expression": r"(\w)=(\d)"})
    assert groups.json[0]["matches"] == [["a", "1"], ["b", "2"]]


def test_regex_errors_and_catastrophic_patterns_are_bounded():
    with pytest.raises(ToolError, match="invalid regular expression"):
        run("regex", "regex_extract", {"content": "x", "expression": "(unclosed"})
    with pytest.raises(ToolError, match="took longer"):
        run("regex", "regex_extract", {"content": "x" * 3000, "expression": "(x+x+)+y"})


def test_text_stats():
    result = run(
        "text_utils", "text_stats", {"content": "Hello world. How are you?\n\nFine, thanks!"}
    )
    assert result.json == [
        {
            "characters": 40,
            "characters_no_spaces": 33,
            "words": 7,
            "lines": 3,
            "sentences": 3,
            "paragraphs": 2,
        }
    ]
    assert "words: 7" in result.text


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("upper", "HELLO HTTPSERVER WORLD"),
        ("lower", "hello httpserver world"),
        ("title", "Hello Httpserver World"),
        ("sentence", "Hello httpserver world"),
        ("snake_case", "hello_http_server_world"),
        ("kebab_case", "hello-http-server-world"),
        ("camel_case", "helloHttpServerWorld"),
        ("pascal_case", "HelloHttpServerWorld"),
    ],
)
def test_case_convert(case, expected):
    result = run("text_utils", "case_convert", {"content": "hello HTTPServer world", "case": case})
    assert result.text == expected


def test_text_replace_plain_regex_and_ignore_case():
    plain = run(
        "text_utils", "text_replace", {"content": r"a.b a.b", "find": ".", "replacement": r"\1"}
    )
    assert plain.text == r"a\1b a\1b"
    regex = run(
        "text_utils",
        "text_replace",
        {"content": "2024-01-31", "find": r"(\d+)-(\d+)-(\d+)", "replacement": r"\3/\2/\1",
         "use_regex": "true"},
    )  # fmt: skip
    assert regex.text == "31/01/2024"
    folded = run(
        "text_utils",
        "text_replace",
        {"content": "Cat cat CAT", "find": "cat", "replacement": "dog", "ignore_case": True,
         "count": 2},
    )  # fmt: skip
    assert folded.text == "dog dog CAT"


def test_substring_base64_and_url_codec():
    assert run("text_utils", "substring", {"content": "abcdef", "start": 1, "end": 4}).text == "bcd"
    assert run("text_utils", "substring", {"content": "abcdef", "start": -2}).text == "ef"
    encoded = run("text_utils", "base64_codec", {"content": "héllo?", "operation": "encode"})
    assert encoded.text == base64.b64encode("héllo?".encode()).decode()
    decoded = run("text_utils", "base64_codec", {"content": encoded.text, "operation": "decode"})
    assert decoded.text == "héllo?"
    with pytest.raises(ToolError, match="not valid base64"):
        run("text_utils", "base64_codec", {"content": "!!!!", "operation": "decode"})
    url = run("text_utils", "url_codec", {"content": "a b&c=d/é", "operation": "encode"})
    assert url.text == "a%20b%26c%3Dd%2F%C3%A9"
    back = run("text_utils", "url_codec", {"content": url.text, "operation": "decode"})
    assert back.text == "a b&c=d/é"


# -- webscraper -----------------------------------------------------------------------------
PAGE = """<!doctype html><html><head><meta charset="iso-8859-1"><title>Caf\xe9 &amp; News</title>
<style>body { color: red }</style><script>var secret = 1;</script></head>
<body><nav>Home</nav><h1>Daily caf\xe9</h1><p>First   paragraph.</p><p>Second one.</p></body></html>
""".encode("iso-8859-1")


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _SiteHandler(_Recorder):
    def do_GET(self) -> None:
        self.requests.append({"path": self.path, "headers": dict(self.headers)})
        if self.path == "/page":
            self._send(200, PAGE, "text/html")
        elif self.path == "/plain":
            self._send(200, "just text, ünïcode".encode(), "text/plain; charset=utf-8")
        elif self.path == "/data.json":
            self._send(200, b'{"a": 1}', "application/json")
        elif self.path == "/long":
            self._send(
                200, b"<html><body><p>" + b"word " * 2000 + b"</p></body></html>", "text/html"
            )
        elif self.path == "/binary":
            self._send(200, b"\x00\x01\x02", "application/x-unknown")
        else:
            self._send(404, b"not here", "text/plain")


@pytest.fixture
def site() -> Iterator[str]:
    _SiteHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_webscraper_returns_title_and_readable_text(site):
    result = run("webscraper", "webscraper", {"url": site + "/page"}, loopback_ctx())
    assert result.text.startswith("TITLE: Café & News\n")
    assert "Daily café\nFirst paragraph.\nSecond one." in result.text
    assert "secret" not in result.text and "color: red" not in result.text
    assert result.json[0]["title"] == "Café & News" and result.json[0]["truncated"] is False
    assert "Chrome" in _SiteHandler.requests[-1]["headers"]["User-Agent"]


def test_webscraper_sends_user_agent_and_caps_length(site):
    result = run(
        "webscraper",
        "webscraper",
        {"url": site + "/long", "user_agent": "dify-test/1.0", "max_length": 100},
        loopback_ctx(),
    )
    assert _SiteHandler.requests[-1]["headers"]["User-Agent"] == "dify-test/1.0"
    assert len(result.json[0]["text"]) == 100 and result.json[0]["truncated"] is True


def test_webscraper_reads_plain_text_and_json(site):
    plain = run("webscraper", "webscraper", {"url": site + "/plain"}, loopback_ctx())
    assert plain.text == "just text, ünïcode"
    data = run("webscraper", "webscraper", {"url": site + "/data.json"}, loopback_ctx())
    assert data.text == '{"a": 1}'


def test_webscraper_errors(site):
    with pytest.raises(ToolError, match="HTTP 404"):
        run("webscraper", "webscraper", {"url": site + "/missing"}, loopback_ctx())
    with pytest.raises(ToolError, match="cannot read"):
        run("webscraper", "webscraper", {"url": site + "/binary"}, loopback_ctx())
    with pytest.raises(ToolError, match="only http and https"):
        run("webscraper", "webscraper", {"url": "file:///etc/passwd"}, loopback_ctx())
    with pytest.raises(ToolError, match="outbound HTTP"):
        run("webscraper", "webscraper", {"url": site + "/page"}, ToolContext())


def test_webscraper_refuses_internal_addresses_without_allow_list(site):
    with pytest.raises(ToolError, match="internal address"):
        run("webscraper", "webscraper", {"url": site + "/page"}, guarded_ctx())
    with pytest.raises(ToolError, match="internal address"):
        run("webscraper", "webscraper", {"url": "http://169.254.169.254/latest/"}, guarded_ctx())
    assert _SiteHandler.requests == []


# -- tavily ---------------------------------------------------------------------------------
GOOD_KEY = "tvly-good"


class _TavilyHandler(_Recorder):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
        if self.headers.get("Authorization") != f"Bearer {GOOD_KEY}":
            payload = {"detail": {"error": "Unauthorized: missing or invalid API key."}}
            self._send(401, json.dumps(payload).encode(), "application/json")
            return
        if self.path == "/search":
            answer = {
                "query": body["query"],
                "answer": "Paris." if body.get("include_answer") else None,
                "results": [
                    {"title": "Paris - Wikipedia", "url": "https://en.wikipedia.org/wiki/Paris",
                     "content": "Paris is the capital of France.", "score": 0.98},
                    {"title": "France", "url": "https://example.org/france",
                     "content": "France's capital is Paris.", "score": 0.9},
                ][: body.get("max_results", 5)],
            }  # fmt: skip
            self._send(200, json.dumps(answer).encode(), "application/json")
        elif self.path == "/extract":
            results = [{"url": u, "raw_content": f"content of {u}"} for u in body["urls"]]
            extracted = {"results": results, "failed_results": []}
            self._send(200, json.dumps(extracted).encode(), "application/json")
        else:
            self._send(404, b'{"detail": "not found"}', "application/json")


@pytest.fixture
def tavily_api() -> Iterator[str]:
    _TavilyHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TavilyHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tavily_search_posts_query_and_formats_results(tavily_api):
    ctx = loopback_ctx({"tavily_api_key": GOOD_KEY, "base_url": tavily_api + "/"})
    result = run(
        "tavily",
        "tavily_search",
        {"query": "capital of France", "include_answer": "true", "max_results": "1",
         "include_domains": "wikipedia.org, example.org"},
        ctx,
    )  # fmt: skip
    sent = _TavilyHandler.requests[-1]
    assert sent["path"] == "/search"
    assert sent["json"]["query"] == "capital of France" and sent["json"]["max_results"] == 1
    assert sent["json"]["include_domains"] == ["wikipedia.org", "example.org"]
    assert sent["json"]["search_depth"] == "basic" and sent["json"]["api_key"] == GOOD_KEY
    assert result.text.startswith("Answer: Paris.")
    assert "https://en.wikipedia.org/wiki/Paris" in result.text
    assert result.json[0]["results"][0]["title"] == "Paris - Wikipedia"


def test_tavily_extract(tavily_api):
    ctx = loopback_ctx({"tavily_api_key": GOOD_KEY, "base_url": tavily_api})
    result = run("tavily", "tavily_extract", {"urls": "https://a.example, https://b.example"}, ctx)
    assert _TavilyHandler.requests[-1]["json"]["urls"] == ["https://a.example", "https://b.example"]
    assert "content of https://b.example" in result.text


def test_tavily_validate_credentials_makes_a_real_call(tavily_api):
    provider = builtin_providers.get("tavily")
    assert provider is not None and provider.declaration.needs_credentials
    good = {"tavily_api_key": GOOD_KEY, "base_url": tavily_api}
    provider.validate_credentials(good, loopback_ctx())
    assert _TavilyHandler.requests[-1]["json"]["max_results"] == 1
    with pytest.raises(ToolError, match="invalid API key"):
        provider.validate_credentials(
            {"tavily_api_key": "tvly-bad", "base_url": tavily_api}, loopback_ctx()
        )
    with pytest.raises(ToolError, match="missing credentials: tavily_api_key"):
        provider.validate_credentials({"base_url": tavily_api}, loopback_ctx())


def test_tavily_wrong_key_and_internal_base_url_are_refused(tavily_api):
    bad = loopback_ctx({"tavily_api_key": "tvly-bad", "base_url": tavily_api})
    with pytest.raises(ToolError, match="invalid API key"):
        run("tavily", "tavily_search", {"query": "x"}, bad)
    refused = guarded_ctx({"tavily_api_key": GOOD_KEY, "base_url": tavily_api})
    with pytest.raises(ToolError, match="internal address"):
        run("tavily", "tavily_search", {"query": "x"}, refused)
    assert all(
        r["headers"].get("Authorization") != f"Bearer {GOOD_KEY}" for r in _TavilyHandler.requests
    )
