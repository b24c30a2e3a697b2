"""Message and node costs: operator prices (ModelPrice) and providers' list prices, in
Dify's Usage fields, on the stream, the blocking answer, GET /v1/messages and node events."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from dify_client import ChatClient
from django.core.management import call_command

from apps.core.errors import InvalidParam
from apps.providers.models import ModelPrice
from apps.providers.services import model_price_set, provider_credentials_set
from apps.workflows.chat.task import background_wait
from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import Message
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import DSL_DIR, chat_app, sse_events
from tests.service_api.workflow_helpers import llm_app

pytestmark = pytest.mark.django_db(transaction=True)
REPLY = "one two three four five six seven eight"  # 8 completion "tokens" on the fake server


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text=REPLY, models=("fake-chat", "gpt-4o-mini")) as server:
        yield server


def _client(app, base: str) -> ChatClient:
    client = ChatClient(app_key(app))
    client.base_url = base + "/v1"
    return client


def _price(tokens: int, unit_price: str, unit: str = "0.000001") -> Decimal:
    return (tokens * Decimal(unit_price) * Decimal(unit)).quantize(Decimal("0.0000001"))


def test_operator_prices_cost_the_message(asgi_server, model_server):
    workspace = make_workspace()
    app = chat_app(workspace, model_server)
    model_price_set(workspace=workspace, provider_name="openai_api_compatible",
                    model="fake-chat", input_price="2.5", output_price="10")  # fmt: skip
    client = _client(app, asgi_server)
    body = client.create_chat_message({"name": "Ada"}, "what is new", "u").json()
    usage = body["metadata"]["usage"]
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    assert completion == 8 and prompt > 0
    assert usage["prompt_unit_price"] == "2.5" and usage["prompt_price_unit"] == "0.000001"
    assert usage["completion_unit_price"] == "10"
    assert Decimal(usage["prompt_price"]) == _price(prompt, "2.5")
    assert Decimal(usage["completion_price"]) == _price(completion, "10")
    total = _price(prompt, "2.5") + _price(completion, "10")
    assert Decimal(usage["total_price"]) == total and usage["currency"] == "USD"
    assert Message.objects.get(pk=body["id"]).total_price == total

    streamed = client.create_chat_message(
        {"name": "Ada"}, "what is new", "u", response_mode="streaming",
        conversation_id=body["conversation_id"],
    )  # fmt: skip
    end = list(sse_events(streamed))[-1]
    assert end["event"] == "message_end" and Decimal(end["metadata"]["usage"]["total_price"]) > 0
    history = client.get_conversation_messages("u", body["conversation_id"]).json()["data"]
    assert Decimal(history[0]["total_price"]) == total and history[0]["currency"] == "USD"
    background_wait()


def test_a_model_without_a_price_costs_zero(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server)
    usage = _client(app, asgi_server).create_chat_message({"name": "Ada"}, "hi", "u").json()
    usage = usage["metadata"]["usage"]
    assert usage["total_price"] == "0.0000000" and usage["prompt_unit_price"] == "0"
    background_wait()


def test_list_prices_apply_and_operator_prices_win(asgi_server, model_server):
    workspace = make_workspace()
    provider_credentials_set(
        workspace=workspace, provider_name="openai",
        credentials={"openai_api_key": model_server.api_key,
                     "openai_api_base": model_server.base_url},
        validate=False,
    )  # fmt: skip
    app = app_import_dsl(
        workspace=workspace, text=(DSL_DIR / "llm_chat.yml").read_text(), publish=True
    ).app  # a chatflow whose LLM node is openai/gpt-4o-mini
    client = _client(app, asgi_server)
    events = list(sse_events(client.create_chat_message({}, "hi", "u", response_mode="streaming")))
    node = next(e for e in events if e["event"] == "node_finished"
                and e["data"]["node_type"] == "llm")  # fmt: skip
    meta = node["data"]["execution_metadata"]
    assert Decimal(meta["total_price"]) > 0 and meta["currency"] == "USD"
    usage = events[-1]["metadata"]["usage"]
    assert usage["prompt_unit_price"] == "0.15" and usage["completion_unit_price"] == "0.6"
    assert Decimal(usage["total_price"]) == Decimal(meta["total_price"])
    model_price_set(workspace=workspace, provider_name="openai", model="gpt-4o-mini",
                    input_price="1", output_price="1", unit="0.001", currency="eur")  # fmt: skip
    usage = client.create_chat_message({}, "hi", "u").json()["metadata"]["usage"]
    assert usage["prompt_unit_price"] == "1" and usage["prompt_price_unit"] == "0.001"
    assert usage["currency"] == "EUR"
    background_wait()


def test_workflow_llm_nodes_report_their_cost(asgi_server, model_server):
    workspace = make_workspace()
    app = llm_app(workspace, model_server)
    model_price_set(workspace=workspace, provider_name="openai_api_compatible",
                    model="fake-chat", input_price="3", output_price="6")  # fmt: skip
    response = requests.post(
        f"{asgi_server}/v1/workflows/run",
        json={"inputs": {"topic": "tea"}, "user": "u", "response_mode": "streaming"},
        headers={"Authorization": f"Bearer {app_key(app)}"}, stream=True, timeout=20,
    )  # fmt: skip
    events = list(sse_events(response))
    node = next(e for e in events if e["event"] == "node_finished"
                and e["data"]["node_type"] == "llm")  # fmt: skip
    usage = node["data"]["outputs"]["usage"]
    assert usage["completion_price"] == format(_price(8, "6"), "f")
    assert node["data"]["execution_metadata"]["total_price"] == usage["total_price"]


def test_price_settings_are_checked(capsys):
    workspace = make_workspace()
    for bad in ({"input_price": "abc"}, {"input_price": "-1"}, {"input_price": "1", "unit": "0"},
                {"input_price": "1", "currency": "US$"}):  # fmt: skip
        with pytest.raises(InvalidParam):
            model_price_set(workspace=workspace, provider_name="openai", model="m", **bad)
    call_command("set_model_price", str(workspace.pk), "openai", "gpt-4o", "--input", "2",
                 "--output", "8")  # fmt: skip
    price = ModelPrice.objects.get(workspace=workspace, model="gpt-4o")
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(price.pk)
    assert price.output_price == Decimal("8") and price.unit == Decimal("0.000001")
