#!/usr/bin/env python
"""Service API streaming benchmark: latency the platform adds, and concurrent streams held.

Starts everything itself on 127.0.0.1: a fake OpenAI-compatible LLM server (the tests' fake,
real HTTP + SSE, in a process of its own as a real provider is another machine: see
``bench/_fake_llm.py``), and the platform (`manage.py serve`, embedded PostgreSQL in a temporary
directory, a chat app whose model is the fake). Then:

1. added TTFB: time to the first answer token through ``POST /v1/chat-messages``
   (streaming) minus the time to the first token straight from the fake LLM, sequential
   requests, p50/p90 over the samples;
2. concurrency: N streams at once (the fake sends a token every ``--token-delay`` s), each
   must end with ``message_end`` and carry the whole answer; the largest N with no error is
   ``max_streams_ok``.

    python bench/api.py [--quick] [--json] [--levels 50,100,200]

With --json the last line is one JSON object with at least added_ttfb_ms_p50 and
max_streams_ok. The machine's load average (1, 5, 15 min) is printed before and after: the
figures are only comparable at a similar load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._fake_llm import FakeLLMProcess  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

FakeLLM = FakeOpenAIServer | FakeLLMProcess

TARGETS = {"added_ttfb_ms_p50_max": 5.0, "streams": 500}
ANSWER = " ".join(f"w{i}" for i in range(20))
CHAT_APP = """kind: app
version: "0.3.0"
app: {name: Bench chat, mode: chat, icon: "🤖", icon_background: "#FFEAD5"}
model_config:
  model: {provider: openai_api_compatible, name: fake-chat, mode: chat, completion_params: {}}
  pre_prompt: You are terse.
  user_input_form: []
  opening_statement: ""
"""


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on this platform
        return []


def _cpu_times() -> list[int]:
    """The machine's CPU counters (/proc/stat, all CPUs), empty where there is none."""
    try:
        with open("/proc/stat") as stat:
            return [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return []


def _steal_percent(before: list[int], after: list[int]) -> float | None:
    """Share of CPU time the hypervisor gave to other guests (steal) between two readings:
    on a shared VM it is what makes one run differ from the next."""
    if len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return round(100 * (after[7] - before[7]) / total, 1) if total > 0 else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"manage.py {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


def start_platform(tmp: Path, llm: FakeLLM) -> tuple[subprocess.Popen[str], str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATA_DIR=str(tmp), ADMIN_PASSWORD="bench-Admin-1", LOG_LEVEL="WARNING",
        UVICORN_LOG_LEVEL="warning", SSRF_ALLOWED_NETWORKS="127.0.0.0/8",
    )  # fmt: skip
    workspace = _manage(env, "bootstrap")
    _manage(
        env, "set_provider", workspace, "openai_api_compatible",
        "--credential", f"base_url={llm.base_url}", "--credential", f"api_key={llm.api_key}",
        "--credential", "models=fake-chat", "--default-chat", "fake-chat", "--no-validate",
    )  # fmt: skip
    app_file = tmp / "chat.yml"
    app_file.write_text(CHAT_APP)
    app_id = _manage(env, "import_dsl", str(app_file), "--workspace", workspace)
    key = _manage(env, "create_api_key", workspace, "--app", app_id)
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-bootstrap", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return proc, base, key
        except httpx2.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the platform did not start: " + (tmp / "server.log").read_text()[-2000:])


async def _first_token_direct(client: httpx2.AsyncClient, llm: FakeLLM) -> float:
    body = {"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {llm.api_key}"}
    started = time.perf_counter()
    first: float | None = None
    async with client.stream(
        "POST", llm.base_url + "/chat/completions", json=body, headers=headers
    ) as response:
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: ") and '"content"' in line:
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the fake LLM sent no token")
    return first


async def _chat_stream(
    client: httpx2.AsyncClient, base: str, key: str, user: str
) -> tuple[float, str, bool]:
    """(seconds to the first answer token, the whole answer, ended with message_end)."""
    body = {"inputs": {}, "query": "hi", "response_mode": "streaming", "user": user}
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    first = None
    answer: list[str] = []
    ended = False
    async with client.stream(
        "POST", base + "/v1/chat-messages", json=body, headers=headers
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event.get("event") in ("message", "agent_message") and event.get("answer"):
                if first is None:
                    first = time.perf_counter() - started
                answer.append(event["answer"])
            elif event.get("event") == "message_end":
                ended = True
            elif event.get("event") == "error":
                raise RuntimeError(f"error event: {event}")
    return first or float("nan"), "".join(answer), ended


async def measure_ttfb(
    base: str, key: str, llm: FakeLLM, samples: int, pause: float = 0.0
) -> dict[str, Any]:
    llm.chunk_delay = 0.0
    limits = httpx2.Limits(max_connections=10)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
        for _ in range(3):  # warm up both paths
            await _first_token_direct(client, llm)
            await _chat_stream(client, base, key, "warmup")
        direct, platform = [], []
        cpu_before = _cpu_times()
        for i in range(samples):
            await asyncio.sleep(pause)  # the previous answer's after-work is done by then
            direct.append(await _first_token_direct(client, llm))
            platform.append((await _chat_stream(client, base, key, f"ttfb-{i % 5}"))[0])
        cpu_after = _cpu_times()
    added = [(p - d) * 1000 for p, d in zip(platform, direct, strict=True)]
    return {
        "samples": samples,
        "direct_ttfb_ms_p50": round(statistics.median(direct) * 1000, 3),
        "platform_ttfb_ms_p50": round(statistics.median(platform) * 1000, 3),
        "added_ttfb_ms_p50": round(statistics.median(added), 3),
        "added_ttfb_ms_p90": round(statistics.quantiles(added, n=10)[-1], 3),
        "steal_percent": _steal_percent(cpu_before, cpu_after),
    }


async def measure_streams(base: str, key: str, count: int) -> dict[str, Any]:
    limits = httpx2.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    started = time.perf_counter()
    async with httpx2.AsyncClient(timeout=120, limits=limits) as client:
        results = await asyncio.gather(
            *(_chat_stream(client, base, key, f"load-{i}") for i in range(count)),
            return_exceptions=True,
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    bad = [r for r in results if not isinstance(r, BaseException) and (r[1] != ANSWER or not r[2])]
    return {
        "streams": count,
        "ok": count - len(errors) - len(bad),
        "errors": len(errors) + len(bad),
        "first_error": repr(errors[0])[:300] if errors else (repr(bad[0])[:300] if bad else None),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _print_ttfb(ttfb: dict[str, Any]) -> None:
    print(
        f"  fake LLM direct p50 {ttfb['direct_ttfb_ms_p50']:.2f} ms, through the "
        f"platform p50 {ttfb['platform_ttfb_ms_p50']:.2f} ms"
    )
    print(
        f"  added by the platform: p50 {ttfb['added_ttfb_ms_p50']:.2f} ms, "
        f"p90 {ttfb['added_ttfb_ms_p90']:.2f} ms (target p50 <= 5 ms); CPU steal "
        f"{ttfb['steal_percent']}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--levels", help="comma-separated concurrency levels")
    parser.add_argument("--token-delay", type=float, default=0.05)
    parser.add_argument("--samples", type=int, help="TTFB samples (default 30 quick, 100 full)")
    parser.add_argument(
        "--pause", type=float, default=0.05,
        help="seconds between TTFB samples (default 0.05; 0 = back to back)",
    )  # fmt: skip
    parser.add_argument(
        "--fake-in-process", action="store_true",
        help="run the fake LLM in this process, as before 2026-12-03 (its thread then competes "
        "with the measuring client for the GIL)",
    )  # fmt: skip
    args = parser.parse_args()
    levels = (
        [int(x) for x in args.levels.split(",")]
        if args.levels
        else ([100, 500] if args.quick else [100, 250, 500])
    )
    samples = args.samples or (30 if args.quick else 100)
    tmp = Path(tempfile.mkdtemp(prefix="dify-bench-api-"))
    started = time.perf_counter()
    load_before = _loadavg()
    print(f"load average before: {load_before}")
    fake_kind = FakeOpenAIServer if args.fake_in_process else FakeLLMProcess
    with fake_kind(reply_text=ANSWER, api_key="sk-bench") as llm:
        proc, base, key = start_platform(tmp, llm)
        try:
            ttfb = asyncio.run(measure_ttfb(base, key, llm, samples, args.pause))
            print(f"TTFB (first answer token), {samples} sequential requests {args.pause} s apart:")
            _print_ttfb(ttfb)
            back_to_back = asyncio.run(measure_ttfb(base, key, llm, samples, 0.0))
            print("  the same back to back (each request meets the previous answer's after-work:")
            print("  storing it, naming the conversation with a second model call):")
            _print_ttfb(back_to_back)
            llm.chunk_delay = args.token_delay
            rounds = []
            max_ok = 0
            for count in levels:
                result = asyncio.run(measure_streams(base, key, count))
                rounds.append(result)
                print(
                    f"  {count:>4} concurrent streams: {result['ok']} ok, {result['errors']} "
                    f"errors, {result['seconds']} s"
                )
                if result["errors"]:
                    print(f"       first error: {result['first_error']}")
                    break
                max_ok = count
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            if os.environ.get("BENCH_KEEP"):
                print(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    load_after = _loadavg()
    print(f"load average after: {load_after}")
    summary = {
        "benchmark": "api",
        "mode": "quick" if args.quick else "full",
        **ttfb,
        "max_streams_ok": max_ok,
        "levels": rounds,
        "token_delay_s": args.token_delay,
        "ttfb_pause_s": args.pause,
        "back_to_back": {k: v for k, v in back_to_back.items() if k != "samples"},
        "fake_llm": "in-process" if args.fake_in_process else "own process",
        "targets": TARGETS,
        "meets_targets": {
            "added_ttfb_ms_p50": ttfb["added_ttfb_ms_p50"] <= TARGETS["added_ttfb_ms_p50_max"],
            "streams": max_ok >= TARGETS["streams"],
        },
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_count": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    print(f"max concurrent streams with no error: {max_ok} (target {TARGETS['streams']})")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
