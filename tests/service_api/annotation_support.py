"""Helpers of the annotation suites: apps with a chat and an embedding model on the fake
OpenAI-compatible server, and the annotation / annotation-reply calls."""

from __future__ import annotations

from typing import Any

from apps.providers.services import default_model_set, provider_credentials_set
from apps.tenants.models import Workspace
from apps.workflows.models import App
from tests.factories import make_app
from tests.fakes.openai_server import FakeOpenAIServer, fake_embedding
from tests.service_api.chat_support import model_config

PROVIDER = "openai_api_compatible"
EMBED_MODEL = "fake-embed"
REPLY = {"embedding_provider_name": PROVIDER, "embedding_model_name": EMBED_MODEL}


def connect_models(workspace: Workspace, server: FakeOpenAIServer) -> None:
    provider_credentials_set(
        workspace=workspace, provider_name=PROVIDER,
        credentials={"base_url": server.base_url, "api_key": server.api_key,
                     "models": f"fake-chat,{EMBED_MODEL}:text-embedding"},
        validate=False,
    )  # fmt: skip
    default_model_set(
        workspace=workspace, model_type="llm", provider_name=PROVIDER, model="fake-chat"
    )


def annotated_app(workspace: Workspace, server: FakeOpenAIServer, mode: str = "chat") -> App:
    """An app of ``mode`` with no input form (a chat needs only its query)."""
    connect_models(workspace, server)
    config = model_config(user_input_form=[], pre_prompt="You are helpful.", opening_statement="")
    return make_app(workspace, mode=mode, model_config=config)


def cosine(a: str, b: str) -> float:
    """The similarity the fake server's embeddings give two texts (its vectors are unit)."""
    return sum(x * y for x, y in zip(fake_embedding(a), fake_embedding(b), strict=True))


def enable(client: Any, threshold: float = 0.9, **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/apps/annotation-reply/enable",
        {**REPLY, "score_threshold": threshold, **extra}, format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


def add(client: Any, question: str, answer: str) -> dict[str, Any]:
    response = client.post(
        "/v1/apps/annotations", {"question": question, "answer": answer}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()
