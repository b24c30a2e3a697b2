"""The agent node's built-in strategies (function_calling, ReAct) with real HTTP to the fake
OpenAI server and tools as plain functions."""

import json

import pytest

from apps.providers.runtime.base import ToolSpec
from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.events import AgentLog, TextChunk
from apps.workflows.engine.nodes.agent_react import parse_react
from apps.workflows.engine.ports import Ports, ToolResult
from tests.workflows.fakes import FakeToolInvoker, ServerModelRuntime
from tests.workflows.helpers import graph, run, run_dsl_file

MODEL = {"provider": "openai", "model": "gpt-4o", "model_type": "llm", "mode": "chat",
         "completion_params": {}, "type": "model-selector"}  # fmt: skip
START = {"id": "start", "type": "start", "variables": [{"variable": "q", "type": "text-input"}]}


def tool(name, **parameters):
    return {"enabled": True, "provider_name": "weather", "tool_name": name, "type": "builtin",
            "tool_label": name, "extra": {"description": f"the {name} tool"},
            "parameters": parameters, "settings": {}}  # fmt: skip


def agent(strategy="function_calling", tools=(), iterations=3, **data):
    params = {
        "model": {"type": "constant", "value": MODEL},
        "tools": {"type": "constant", "value": list(tools)},
        "instruction": {"type": "constant", "value": "You help with weather."},
        "query": {"type": "constant", "value": "{{#start.q#}}"},
        "maximum_iterations": {"type": "constant", "value": iterations},
    }
    return {"id": "agent", "type": "agent", "agent_strategy_provider_name":
            "langgenius/agent/agent", "agent_strategy_name": strategy,
            "agent_parameters": params, **data}  # fmt: skip


def end():
    outputs = [{"variable": k, "value_selector": ["agent", k]} for k in ("text", "json")]
    return {"id": "end", "type": "end", "outputs": outputs}


def run_agent(server, node, invoker, q="Weather in Paris in F?"):
    g = graph([START, node, end()], [("start", "agent"), ("agent", "end")])
    ports = Ports(model_runtime=ServerModelRuntime(server), tool_invoker=invoker)
    return run(g, {"q": q}, ports=ports)


def weather_tools():
    return FakeToolInvoker(
        tools={
            ("weather", "current"): lambda city: {"city": city, "celsius": 20},
            ("weather", "to_fahrenheit"): lambda celsius: f"{celsius * 9 / 5 + 32:g}F",
        }
    )


def test_function_calling_runs_two_tools_in_turn_then_answers(fake_openai):
    fake_openai.queue_tool_calls({"name": "current", "arguments": {"city": "Paris"}})
    fake_openai.queue_tool_calls({"name": "to_fahrenheit", "arguments": {"celsius": 20}})
    fake_openai.reply_text = "It is 68F in Paris."
    invoker = weather_tools()
    node = agent(tools=[tool("current"), tool("to_fahrenheit")])
    result = run_agent(fake_openai, node, invoker)
    assert result.status == "succeeded"
    assert result.outputs == {
        "text": "It is 68F in Paris.",
        "json": [{"city": "Paris", "celsius": 20}],
    }
    assert [c["tool_name"] for c in invoker.calls] == ["current", "to_fahrenheit"]
    assert invoker.calls[1]["parameters"] == {"celsius": 20}
    requests = fake_openai.requests_to("/chat/completions")
    assert len(requests) == 3
    first = requests[0].json
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert [t["function"]["name"] for t in first["tools"]] == ["current", "to_fahrenheit"]
    assert first["tools"][0]["function"]["description"] == "the current tool"
    last = requests[2].json["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert (
        last[5]["content"] == "68F"
        and last[4]["tool_calls"][0]["function"]["name"] == "to_fahrenheit"
    )
    logs = [e for e in result.events if isinstance(e, AgentLog)]
    assert [(e.label, e.data["tool"]) for e in logs] == [
        ("ROUND 1", "current"), ("ROUND 2", "to_fahrenheit"), ("ROUND 3", None),
    ]  # fmt: skip
    assert logs[0].data["input"] == {"city": "Paris"}
    assert json.loads(logs[0].data["observation"]) == {"city": "Paris", "celsius": 20}
    node_done = result.node("agent")
    assert node_done.outputs["files"] == [] and node_done.usage["total_tokens"] > 0


def test_answer_text_streams_as_chunks(fake_openai):
    fake_openai.reply_text = "sunny all week"
    nodes = [START, agent(), {"id": "answer", "type": "answer", "answer": "{{#agent.text#}}"}]
    g = graph(nodes, [("start", "agent"), ("agent", "answer")], mode="advanced-chat")
    ports = Ports(model_runtime=ServerModelRuntime(fake_openai), tool_invoker=FakeToolInvoker())
    result = run(g, {"q": "weather?"}, ports=ports, mode="advanced-chat", system={"query": "x"})
    chunks = [e.text for e in result.events if isinstance(e, TextChunk)]
    assert len(chunks) == 3 and "".join(chunks) == "sunny all week"


def test_maximum_iterations_stops_calling_tools(fake_openai):
    for _ in range(5):
        fake_openai.queue_tool_calls({"name": "current", "arguments": {"city": "Oslo"}})
    invoker = weather_tools()
    result = run_agent(fake_openai, agent(tools=[tool("current")], iterations=2), invoker)
    assert result.status == "succeeded"
    assert len(invoker.calls) == 2
    requests = fake_openai.requests_to("/chat/completions")
    assert len(requests) == 3 and "tools" not in requests[-1].json  # final round: no tools


def test_tool_errors_become_observations(fake_openai):
    fake_openai.queue_tool_calls({"name": "current", "arguments": {"city": "Nowhere"}})
    invoker = FakeToolInvoker()  # knows no tools: invoke raises
    result = run_agent(fake_openai, agent(tools=[tool("current")]), invoker)
    assert result.status == "succeeded"
    tool_message = fake_openai.requests_to("/chat/completions")[1].json["messages"][-1]
    assert tool_message["content"].startswith("tool invoke error:")


class DescribingInvoker(FakeToolInvoker):
    def describe(self, provider_type, provider_id, tool_name):
        properties = {"city": {"type": "string"}, "units": {"type": "string"}}
        return ToolSpec(tool_name, "described", {"type": "object", "properties": properties,
                                                 "required": ["city", "units"]})  # fmt: skip


def test_tool_schema_comes_from_describe_and_fixed_parameters_are_merged(fake_openai):
    fake_openai.queue_tool_calls({"name": "current", "arguments": {"city": "Lima"}})
    invoker = DescribingInvoker(tools={("weather", "current"): lambda **kw: json.dumps(kw)})
    fixed = tool("current", city={"auto": 1, "value": None},
                 units={"auto": 0, "value": {"type": "constant", "value": "metric"}})  # fmt: skip
    run_agent(fake_openai, agent(tools=[fixed]), invoker)
    schema = fake_openai.requests_to("/chat/completions")[0].json["tools"][0]["function"]
    assert schema["parameters"] == {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    }  # fmt: skip
    assert invoker.calls[0]["parameters"] == {"city": "Lima", "units": "metric"}


def test_disabled_tools_are_not_offered(fake_openai):
    off = {**tool("to_fahrenheit"), "enabled": False}
    run_agent(fake_openai, agent(tools=[tool("current"), off]), weather_tools())
    tools = fake_openai.requests_to("/chat/completions")[0].json["tools"]
    assert [t["function"]["name"] for t in tools] == ["current"]


def test_react_parses_actions_and_feeds_observations(fake_openai):
    fake_openai.reply_text = (
        'Thought: I need the weather.\nAction: current\nAction Input: {"city": "Paris"}'
    )

    def current(city):
        fake_openai.reply_text = "Thought: I know it now.\nFinal Answer: 20C and sunny in Paris."
        return {"city": city, "celsius": 20}

    invoker = FakeToolInvoker(tools={("weather", "current"): current})
    result = run_agent(fake_openai, agent("ReAct", tools=[tool("current")]), invoker)
    assert result.status == "succeeded"
    assert result.outputs["text"] == "20C and sunny in Paris."
    assert invoker.calls[0]["parameters"] == {"city": "Paris"}
    first, second = (r.json for r in fake_openai.requests_to("/chat/completions"))
    assert "tools" not in first and first["stop"] == ["Observation:"]
    assert "current: the current tool" in first["messages"][0]["content"]
    assert second["messages"][-1]["content"].startswith("Observation: {")
    logs = [e.data for e in result.events if isinstance(e, AgentLog)]
    assert logs[0]["thought"] == "I need the weather." and logs[0]["tool"] == "current"
    assert logs[1]["thought"] == "I know it now."


@pytest.mark.parametrize(
    ("text", "action", "args", "answer"),
    [
        ('Thought: t\nAction: search\nAction Input: {"q": "x"}', "search", {"q": "x"}, None),
        ('Thought: t\nAction:\n```json\n{"action": "search", "action_input": {"q": 1}}\n```',
         "search", {"q": 1}, None),
        ('Action: {"action": "Final Answer", "action_input": "done"}', None, {}, "done"),
        ("Thought: ok\nFinal Answer: 42", None, {}, "42"),
        ("Action: lookup\nAction Input: plain words", "lookup", {"input": "plain words"}, None),
        ("just an answer", None, {}, None),
    ],
)  # fmt: skip
def test_parse_react(text, action, args, answer):
    step = parse_react(text)
    assert (step.action, step.action_input, step.answer) == (action, args, answer)


def test_unknown_strategy_is_a_config_error():
    with pytest.raises(GraphValidationError, match="agent_strategy_name"):
        graph([START, agent("tree_of_thought")], [("start", "agent")])
    with pytest.raises(GraphValidationError, match=r"agent_parameters\.model"):
        node = agent()
        del node["agent_parameters"]["model"]
        graph([START, node], [("start", "agent")])


def test_agent_dsl(fake_openai):
    fake_openai.queue_tool_calls({"name": "current", "arguments": {"city": "Rome"}})
    fake_openai.reply_text = "Rome is at 20C."
    invoker = weather_tools()
    invoker.tools[("weather", "current")] = lambda city: ToolResult(text=f"{city}: 20C")
    ports = Ports(model_runtime=ServerModelRuntime(fake_openai), tool_invoker=invoker)
    result = run_dsl_file("agent_tools.yml", ports=ports, system={"query": "Rome weather?"})
    assert result.status == "succeeded" and result.text == "Rome is at 20C."
    assert invoker.calls[0]["parameters"] == {"city": "Rome"}


def test_function_calling_falls_back_to_react_when_the_model_takes_no_tools(fake_openai):
    """A server that refuses ``tools`` (HTTP 400 naming them): the turn is redone in ReAct."""
    fake_openai.fail_next(400, "This model does not support tools.")
    fake_openai.reply_text = (
        'Thought: I need the weather.\nAction: current\nAction Input: {"city": "Oslo"}'
    )

    def current(city):
        fake_openai.reply_text = "Thought: done.\nFinal Answer: 3C in Oslo."
        return {"city": city, "celsius": 3}

    invoker = FakeToolInvoker(tools={("weather", "current"): current})
    result = run_agent(fake_openai, agent(tools=[tool("current")]), invoker, q="Oslo?")
    assert result.status == "succeeded", result.error
    assert result.outputs["text"] == "3C in Oslo."
    refused, first, _final = (r.json for r in fake_openai.requests_to("/chat/completions"))
    assert "tools" in refused and "tools" not in first and first["stop"] == ["Observation:"]
    assert invoker.calls[0]["parameters"] == {"city": "Oslo"}


def test_other_bad_requests_are_not_taken_for_missing_tool_support(fake_openai):
    fake_openai.fail_next(400, "The prompt is too long.")
    invoker = FakeToolInvoker(tools={("weather", "current"): lambda city: {}})
    result = run_agent(fake_openai, agent(tools=[tool("current")]), invoker)
    assert result.status == "failed" and "too long" in result.error
    assert len(fake_openai.requests_to("/chat/completions")) == 1
