"""The end-user chat page in a real browser (headless Chromium driven by Playwright): it
streams an answer, shows its sources, and keeps the conversation across a reload.

Needs Debian's chromium (``.ci/run`` installs it); outside CI the test is skipped when the
browser is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

from apps.datasets import services
from apps.workflows.chat.task import background_wait
from apps.workflows.models import Conversation, Message
from tests.datasets.kb_support import FACTS
from tests.factories import make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import answer_requests, chat_app

pytestmark = pytest.mark.django_db(transaction=True)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPLY = "The keeper Oswin Marlow polished the lens."


@pytest.fixture
def browser_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {CHROMIUM} (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # between browser steps are plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 900})
        yield page
        browser.close()


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text=REPLY, chunk_delay=0.02) as server:
        yield server


def _app(server: FakeOpenAIServer):
    workspace = make_workspace()
    dataset = services.dataset_create(
        workspace=workspace, name="Lighthouses", indexing_technique="economy"
    )
    services.document_create_from_text(dataset=dataset, name="keeper.txt", text=FACTS["txt"])
    datasets = {
        "strategy": "router",
        "datasets": [{"dataset": {"enabled": True, "id": str(dataset.pk)}}],
    }
    app = chat_app(
        workspace, server, retriever_resource={"enabled": True},
        dataset_configs={"retrieval_model": "multiple", "top_k": 2, "datasets": datasets},
        opening_statement="Hi {{name}}! Ask about lighthouses.",
    )  # fmt: skip
    app.enable_site = True
    app.save()
    return app


def test_the_page_streams_cites_and_keeps_the_conversation(
    asgi_server, model_server, browser_page, tmp_path: Path
):
    page = browser_page
    app = _app(model_server)
    page.goto(f"{asgi_server}/chat/{app.pk}/")
    greeting = page.locator(".bubble.bot").first
    assert greeting.inner_text() == "Hi {{name}}! Ask about lighthouses."
    page.fill("#chat-inputs input", "Ada")
    assert greeting.inner_text() == "Hi Ada! Ask about lighthouses."  # the form's value
    page.fill("#chat-query", "Who cleaned the lighthouse lens?")
    page.keyboard.press("Enter")
    answer = page.locator(".bubble.bot").nth(1)
    answer.locator("details.sources").wait_for(timeout=15_000)  # added at message_end
    assert answer.inner_text().startswith(REPLY)
    assert "Sources (1)" in answer.locator("summary").inner_text()
    answer.locator("summary").click()
    assert "keeper.txt" in answer.locator("details.sources li").inner_text()
    page.screenshot(path=str(tmp_path / "chat-page.png"))
    first = Message.objects.get(app=app)
    assert first.answer == REPLY and first.retriever_resources

    page.reload()  # the conversation is shown again and goes on
    page.locator(".bubble.user").first.wait_for(timeout=10_000)
    assert page.locator(".bubble.user").first.inner_text() == "Who cleaned the lighthouse lens?"
    page.fill("#chat-query", "When did Oswin polish the lens?")
    page.keyboard.press("Enter")
    page.locator(".bubble.bot").nth(2).locator("details.sources").wait_for(timeout=15_000)
    assert Conversation.objects.filter(app=app).count() == 1
    assert Message.objects.filter(app=app, conversation=first.conversation).count() == 2
    history = answer_requests(model_server)[-1]["messages"]
    assert [m["content"] for m in history[-3:-1]] == ["Who cleaned the lighthouse lens?", REPLY]

    page.click("#chat-new")  # a new conversation: the log starts over
    assert page.locator(".bubble.user").count() == 0
    background_wait()
    connections.close_all()  # the ORM calls above ran in Playwright's context: own connection
