"""bench/api.py's helpers: the fake LLM in a process of its own speaks the real streamed
protocol and takes its chunk delay from the parent; CPU steal is read from /proc/stat."""

from __future__ import annotations

import json
import time

import httpx2
import pytest

from bench import api
from bench._fake_llm import FakeLLMProcess


def _stream(base_url: str, api_key: str) -> tuple[str, float]:
    body = {"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started, words = time.perf_counter(), []
    with httpx2.stream(
        "POST", base_url + "/chat/completions", json=body, timeout=10,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:]).get("choices") or []:
                    words.append(choice["delta"].get("content") or "")
    return "".join(words), time.perf_counter() - started


def test_fake_llm_process_streams_and_takes_its_chunk_delay() -> None:
    with FakeLLMProcess(reply_text="one two three", api_key="sk-proc") as llm:
        assert llm.base_url.startswith("http://127.0.0.1:")
        text, quick = _stream(llm.base_url, "sk-proc")
        assert text == "one two three"
        llm.chunk_delay = 0.1
        assert llm.chunk_delay == 0.1
        text, slow = _stream(llm.base_url, "sk-proc")
        assert text == "one two three"
        assert slow >= 0.2 > quick  # three words: at least two pauses between chunks
        with pytest.raises(httpx2.HTTPStatusError):
            httpx2.post(
                llm.base_url + "/chat/completions", json={"model": "fake-chat", "messages": []},
                headers={"Authorization": "Bearer wrong"}, timeout=10,
            ).raise_for_status()  # fmt: skip
        process = llm._proc
    assert process is not None and process.poll() is not None  # ended with the block


def test_steal_percent_is_the_steal_share_of_all_cpu_time() -> None:
    before = [100, 0, 50, 800, 0, 0, 0, 50, 0, 0]
    after = [200, 0, 100, 1500, 0, 0, 0, 150, 0, 0]  # +950 in all, +100 of it steal
    assert api._steal_percent(before, after) == 10.5
    assert api._steal_percent([], after) is None
    assert api._steal_percent(before, before) is None
