"""The tests' fake OpenAI-compatible server, run in a process of its own for benchmarks.

A real model provider is another machine: it never shares an interpreter (and its GIL)
with the client that measures it. Run in the benchmark's own process, the fake's request
thread has to win the GIL back from the benchmark's event loop, and it loses most often
exactly while that loop reads the platform's response headers: the fake then sends its
first token ~1.4 ms after its headers instead of ~0.3 ms, and the benchmark blamed that on
the platform. In a child process the fake answers the platform and the direct client alike.

Parent side: ``FakeLLMProcess`` (a context manager with ``base_url``, ``api_key`` and a
settable ``chunk_delay``). Child side: ``python bench/_fake_llm.py REPLY API_KEY`` prints
the base URL, then takes ``chunk_delay SECONDS`` lines on stdin (answering ``ok``) until
stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[1]


class FakeLLMProcess:
    def __init__(self, *, reply_text: str, api_key: str) -> None:
        self.reply_text = reply_text
        self.api_key = api_key
        self.base_url = ""
        self._chunk_delay = 0.0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), self.reply_text, self.api_key],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.base_url = self._reply()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise SystemExit(f"the fake LLM did not start: {self.base_url!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.stdin:
            proc.stdin.close()  # the child ends when its stdin does
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    @property
    def chunk_delay(self) -> float:
        return self._chunk_delay

    @chunk_delay.setter
    def chunk_delay(self, seconds: float) -> None:
        assert self._proc is not None and self._proc.stdin is not None, "not started"
        self._proc.stdin.write(f"chunk_delay {seconds}\n")
        self._proc.stdin.flush()
        if self._reply() != "ok":
            raise RuntimeError("the fake LLM did not take the chunk delay")
        self._chunk_delay = seconds

    def _reply(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout.readline().strip()


def _serve(reply_text: str, api_key: str, commands: IO[str], out: IO[str]) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(reply_text=reply_text, api_key=api_key) as llm:
        print(llm.base_url, file=out, flush=True)
        for line in commands:
            name, _, value = line.strip().partition(" ")
            if name == "chunk_delay":
                llm.chunk_delay = float(value)
                print("ok", file=out, flush=True)
            else:
                print(f"unknown command {name!r}", file=out, flush=True)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.stdin, sys.stdout)
