"""The model nodes (llm, question-classifier, parameter-extractor) against the fake
OpenAI-compatible server over real HTTP."""

import threading
import time
from typing import Any

import pytest

from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.events import NodeFinished, TextChunk
from apps.workflows.engine.ports import Ports
from apps.workflows.engine.runner import GraphRunner
from tests.workflows.fakes import ServerModelRuntime
from tests.workflows.helpers import graph, run, run_dsl_file

MODEL = {"provider": "openai", "name": "gpt-4o", "mode": "chat", "completion_params": {}}
START = {"id": "start", "type": "start", "variables": [{"variable": "q", "type": "text-input"}]}
HISTORY = [{"query": f"q{i}", "answer": f"a{i}"} for i in range(1, 4)]


def llm(**data):
    base: dict[str, Any] = {
        "id": "llm",
        "type": "llm",
        "model": MODEL,
        "context": {"enabled": False},
    }
    base.setdefault("prompt_template", [{"role": "user", "text": "{{#start.q#}}"}])
    return {**base, **data}


def end(**outputs):
    items = [{"variable": k, "value_selector": v} for k, v in outputs.items()]
    return {"id": "end", "type": "end", "outputs": items}


def ports(server):
    return Ports(model_runtime=ServerModelRuntime(server))


def sent(server, index=-1):
    return server.requests_to("/chat/completions")[index].json


def chat_graph(llm_node):
    nodes = [START, llm_node, {"id": "answer", "type": "answer", "answer": "{{#llm.text#}}"}]
    return graph(nodes, [("start", "llm"), ("llm", "answer")], mode="advanced-chat")


def run_chat(server, llm_node, query="now?", **kwargs):
    system = {"query": query, "conversation_id": "c1"}
    return run(
        chat_graph(llm_node), {}, ports=ports(server), mode="advanced-chat", system=system, **kwargs
    )


# -- llm ------------------------------------------------------------------------------------
def test_llm_streams_each_delta_to_the_answer_before_the_node_finishes(fake_openai):
    fake_openai.reply_text = "one two three four five"
    fake_openai.chunk_delay = 0.05
    runner = GraphRunner(chat_graph(llm()), ports=ports(fake_openai), mode="advanced-chat")
    stamped = [(time.perf_counter(), e) for e in runner.run(inputs={"q": "hi"})]
    chunks = [(t, e) for t, e in stamped if isinstance(e, TextChunk)]
    assert "".join(e.text for _, e in chunks) == "one two three four five"
    assert len(chunks) == 5
    done = next(t for t, e in stamped if isinstance(e, NodeFinished) and e.node_id == "llm")
    assert all(t <= done for t, _ in chunks)
    assert done - chunks[0][0] > 0.15  # the first word went out long before the last came
    assert stamped[-1][1].status == "succeeded"
    assert stamped[-1][1].outputs == {"answer": "one two three four five"}


def test_llm_outputs_usage_and_records_prompts(fake_openai):
    result = run(
        graph([START, llm(), end(t=["llm", "text"])], [("start", "llm"), ("llm", "end")]),
        {"q": "say hi"},
        ports=ports(fake_openai),
    )
    assert result.outputs == {"t": "Hello from the fake model."}
    node = result.node("llm")
    usage = node.outputs["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (2, 5, 7)
    assert usage["currency"] == "USD" and node.usage["total_tokens"] == 7
    assert node.outputs["finish_reason"] == "stop" and node.outputs["reasoning_content"] == ""
    assert node.process_data["prompts"] == [{"role": "user", "text": "say hi", "files": []}]
    assert node.process_data["model_name"] == "gpt-4o"
    assert node.inputs == {"#start.q#": "say hi"}
    assert result.finished.total_tokens == 7
    assert sent(fake_openai)["stream"] is True


def test_memory_window_sends_the_last_turns_then_the_query(fake_openai):
    memory = {"window": {"enabled": True, "size": 2}, "query_prompt_template": "{{#sys.query#}}"}
    node = llm(prompt_template=[{"role": "system", "text": "Be brief."}], memory=memory)
    result = run_chat(fake_openai, node, history=HISTORY)
    assert result.status == "succeeded"
    messages = [(m["role"], m["content"]) for m in sent(fake_openai)["messages"]]
    assert messages == [
        ("system", "Be brief."),
        ("user", "q2"), ("assistant", "a2"), ("user", "q3"), ("assistant", "a3"),
        ("user", "now?"),
    ]  # fmt: skip


def test_memory_without_window_sends_all_history(fake_openai):
    node = llm(prompt_template=[{"role": "system", "text": "S"}], memory={"window": {}})
    run_chat(fake_openai, node, history=HISTORY)
    contents = [m["content"] for m in sent(fake_openai)["messages"]]
    assert contents == ["S", "q1", "a1", "q2", "a2", "q3", "a3", "now?"]


def test_query_already_in_template_is_not_sent_twice(fake_openai):
    template = [{"role": "system", "text": "S"}, {"role": "user", "text": "Q: {{#sys.query#}}"}]
    node = llm(prompt_template=template, memory={"window": {"enabled": True, "size": 1}})
    run_chat(fake_openai, node, history=HISTORY)
    contents = [m["content"] for m in sent(fake_openai)["messages"]]
    assert contents == ["S", "q3", "a3", "Q: now?"]


def test_context_from_a_knowledge_list_fills_the_context_mark(fake_openai):
    start = {
        "id": "start",
        "type": "start",
        "variables": [{"variable": "kb", "type": "json_object"}],
    }
    chunks = [{"content": "alpha", "metadata": {}}, {"content": "beta", "metadata": {}}]
    node = llm(
        context={"enabled": True, "variable_selector": ["start", "kb", "items"]},
        prompt_template=[
            {"role": "system", "text": "Use:\n{{#context#}}"},
            {"role": "user", "text": "go"},
        ],
    )
    g = graph([start, node, end(t=["llm", "text"])], [("start", "llm"), ("llm", "end")])
    result = run(g, {"kb": {"items": chunks}}, ports=ports(fake_openai))
    assert result.status == "succeeded"
    assert sent(fake_openai)["messages"][0]["content"] == "Use:\nalpha\nbeta"
    assert result.node("llm").inputs["#context#"] == "alpha\nbeta"


def test_vision_puts_image_parts_on_the_last_user_message(fake_openai):
    start = {
        "id": "start",
        "type": "start",
        "variables": [{"variable": "pics", "type": "file-list"}],
    }
    pics = [
        {"type": "image", "url": "https://img.test/a.png"},
        {"type": "document", "url": "https://img.test/a.pdf"},
        {"type": "image", "remote_url": "https://img.test/b.png"},
    ]
    vision = {"enabled": True, "configs": {"variable_selector": ["start", "pics"], "detail": "low"}}
    node = llm(prompt_template=[{"role": "user", "text": "what is this?"}], vision=vision)
    g = graph([start, node, end(t=["llm", "text"])], [("start", "llm"), ("llm", "end")])
    assert run(g, {"pics": pics}, ports=ports(fake_openai)).status == "succeeded"
    content = sent(fake_openai)["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://img.test/a.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://img.test/b.png", "detail": "low"}},
    ]


def test_jinja2_messages_render_with_prompt_config_variables(fake_openai):
    node = llm(
        prompt_template=[
            {"role": "user", "text": "", "edition_type": "jinja2",
             "jinja2_text": "{% for w in q.split() %}[{{ w }}]{% endfor %}"},
        ],
        prompt_config={"jinja2_variables": [{"variable": "q", "value_selector": ["start", "q"]}]},
    )  # fmt: skip
    g = graph([START, node, end(t=["llm", "text"])], [("start", "llm"), ("llm", "end")])
    run(g, {"q": "a b"}, ports=ports(fake_openai))
    assert sent(fake_openai)["messages"] == [{"role": "user", "content": "[a][b]"}]


def test_completion_template_becomes_one_user_message(fake_openai):
    node = llm(prompt_template={"text": "Complete: {{#start.q#}}", "edition_type": "basic"})
    g = graph([START, node, end(t=["llm", "text"])], [("start", "llm"), ("llm", "end")])
    run(g, {"q": "abc"}, ports=ports(fake_openai))
    assert sent(fake_openai)["messages"] == [{"role": "user", "content": "Complete: abc"}]


def test_structured_output_asks_for_the_schema_and_parses_the_reply(fake_openai):
    fake_openai.reply_text = '{"name": "Ann", "age": 3}'
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    node = llm(structured_output_switch_on=True, structured_output={"schema": schema})
    g = graph(
        [START, node, end(s=["llm", "structured_output"])], [("start", "llm"), ("llm", "end")]
    )
    result = run(g, {"q": "who?"}, ports=ports(fake_openai))
    assert result.outputs == {"s": {"name": "Ann", "age": 3}}
    fmt = sent(fake_openai)["response_format"]
    assert fmt == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    fake_openai.reply_text = "not json"
    failed = run(g, {"q": "who?"}, ports=ports(fake_openai))
    assert failed.status == "failed" and "structured output" in failed.error


@pytest.mark.parametrize(
    ("fmt", "text", "reasoning"),
    [
        ("tagged", "<think>\nweigh the options \n</think>Hello from the fake model.", ""),
        ("separated", "Hello from the fake model.", "weigh the options"),
    ],
)
def test_reasoning_is_tagged_or_separated(fake_openai, fmt, text, reasoning):
    fake_openai.reasoning_text = "weigh the options"
    g = graph([START, llm(reasoning_format=fmt), end()], [("start", "llm"), ("llm", "end")])
    node = run(g, {"q": "hm"}, ports=ports(fake_openai)).node("llm")
    assert node.outputs["text"] == text and node.outputs["reasoning_content"] == reasoning


def test_separated_format_strips_inline_think_blocks(fake_openai):
    fake_openai.reply_text = "<think>first this then that</think> The answer is 4."
    g = graph([START, llm(reasoning_format="separated"), end()], [("start", "llm"), ("llm", "end")])
    node = run(g, {"q": "hm"}, ports=ports(fake_openai)).node("llm")
    assert node.outputs["text"] == "The answer is 4."
    assert node.outputs["reasoning_content"] == "first this then that"


def test_stop_between_chunks_stops_the_node(fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(30))
    fake_openai.chunk_delay = 0.02
    stop = threading.Event()
    runner = GraphRunner(chat_graph(llm()), ports=ports(fake_openai), mode="advanced-chat")
    events = []
    for event in runner.run(inputs={"q": "hi"}, stop=stop):
        events.append(event)
        if isinstance(event, TextChunk):
            stop.set()
    assert events[-1].status == "stopped"
    assert len([e for e in events if isinstance(e, TextChunk)]) < 5


def test_llm_config_errors_name_the_field():
    with pytest.raises(GraphValidationError, match=r"model\.name"):
        graph([START, llm(model={"provider": "openai"})], [("start", "llm")])
    with pytest.raises(GraphValidationError, match="prompt_template"):
        graph([START, llm(prompt_template="hi")], [("start", "llm")])


def test_provider_errors_fail_the_node_with_their_message(fake_openai):
    fake_openai.fail_next(400, "context too long")
    g = graph([START, llm(), end()], [("start", "llm"), ("llm", "end")])
    result = run(g, {"q": "x"}, ports=ports(fake_openai))
    assert result.status == "failed" and "context too long" in result.error


def test_llm_chat_dsl_streams_the_answer(fake_openai):
    result = run_dsl_file(
        "llm_chat.yml", {}, ports=ports(fake_openai), system={"query": "hello there"}
    )
    assert result.status == "succeeded"
    assert result.text == "Answer: Hello from the fake model."
    assert sent(fake_openai)["messages"][-1] == {"role": "user", "content": "hello there"}


# -- question-classifier ---------------------------------------------------------------------
CLASSES = [{"id": "1", "name": "sales"}, {"id": "2", "name": "billing"}, {"id": "3", "name": "bug"}]


def classifier_graph():
    nodes = [
        START,
        {"id": "qc", "type": "question-classifier", "model": MODEL, "classes": CLASSES,
         "query_variable_selector": ["start", "q"], "instruction": "Route {{#start.q#}}"},
    ] + [
        {"id": f"t{i}", "type": "template-transform", "template": f"class {i}", "variables": []}
        for i in (1, 2, 3)
    ]  # fmt: skip
    edges = [("start", "qc")] + [("qc", f"t{i}", str(i)) for i in (1, 2, 3)]
    return graph(nodes, edges)


@pytest.mark.parametrize(
    ("reply", "chosen"),
    [
        ('{"category_id": "2", "category_name": "billing"}', "2"),
        ('```json\n{"category_name": "bug"}\n```', "3"),
        ("billing", "2"),
        ("I cannot tell", "1"),  # Dify's fallback: the first class
    ],
)
def test_classifier_takes_the_branch_of_the_chosen_class(fake_openai, reply, chosen):
    fake_openai.reply_text = reply
    result = run(classifier_graph(), {"q": "my invoice is wrong"}, ports=ports(fake_openai))
    assert [n for n in ("t1", "t2", "t3") if result.ran(n)] == [f"t{chosen}"]
    node = result.node("qc")
    assert node.outputs["class_id"] == chosen and node.edge_handle == chosen
    assert node.outputs["class_name"] == CLASSES[int(chosen) - 1]["name"]
    request = sent(fake_openai)
    assert "Route my invoice is wrong" in request["messages"][0]["content"]
    assert request["messages"][1] == {"role": "user", "content": "my invoice is wrong"}
    assert "stream" not in request or request["stream"] is False


def test_classifier_dsl_with_three_classes(fake_openai):
    fake_openai.reply_text = '{"category_id": "c-bug", "category_name": "bug report"}'
    result = run_dsl_file("classifier_three.yml", {"q": "it crashes"}, ports=ports(fake_openai))
    assert result.status == "succeeded"
    assert result.outputs == {"route": "engineering", "class": "bug report"}


# -- parameter-extractor ---------------------------------------------------------------------
PARAMS = [
    {"name": "city", "type": "string", "description": "the city", "required": True},
    {"name": "days", "type": "number", "description": "how many days", "required": True},
    {"name": "unit", "type": "select", "description": "unit", "required": False,
     "options": ["C", "F"]},
    {"name": "tags", "type": "array[string]", "description": "tags", "required": False},
]  # fmt: skip


def extractor_graph(mode):
    node = {
        "id": "pe",
        "type": "parameter-extractor",
        "model": MODEL,
        "query": ["start", "q"],
        "parameters": PARAMS,
        "reasoning_mode": mode,
        "instruction": "For {{#start.q#}}",
    }
    return graph([START, node, end()], [("start", "pe"), ("pe", "end")])


def test_extractor_function_call_reads_the_tool_arguments(fake_openai):
    fake_openai.queue_tool_calls(
        {"name": "extract_parameters", "arguments": {"city": "Paris", "days": "3", "unit": "C"}}
    )
    result = run(
        extractor_graph("function_call"), {"q": "3 days in Paris"}, ports=ports(fake_openai)
    )
    out = result.node("pe").outputs
    assert {k: out[k] for k in ("city", "days", "unit", "tags")} == {
        "city": "Paris", "days": 3, "unit": "C", "tags": [],
    }  # fmt: skip
    assert (out["__is_success"], out["__reason"]) == (1, None)
    assert out["__usage"]["total_tokens"] > 0
    tool = sent(fake_openai)["tools"][0]["function"]
    assert tool["name"] == "extract_parameters"
    assert tool["parameters"]["required"] == ["city", "days"]
    assert tool["parameters"]["properties"]["unit"] == {
        "description": "unit", "type": "string", "enum": ["C", "F"],
    }  # fmt: skip
    assert tool["parameters"]["properties"]["tags"]["items"] == {"type": "string"}


def test_extractor_prompt_mode_parses_json_and_reports_missing_required(fake_openai):
    fake_openai.reply_text = 'Here you go: {"city": "Rome", "unit": "K"} hope it helps'
    result = run(extractor_graph("prompt"), {"q": "Rome"}, ports=ports(fake_openai))
    assert result.status == "succeeded"
    out = result.node("pe").outputs
    assert (out["city"], out["days"], out["unit"]) == ("Rome", 0, "")
    assert out["__is_success"] == 0 and out["__reason"] == "Parameter days is required"
    request = sent(fake_openai)
    assert "tools" not in request and '"city"' in request["messages"][0]["content"]


def test_extractor_without_any_json_uses_empty_values(fake_openai):
    fake_openai.reply_text = "no idea"
    out = run(extractor_graph("prompt"), {"q": "?"}, ports=ports(fake_openai)).node("pe").outputs
    assert out["city"] == "" and out["tags"] == [] and out["__is_success"] == 0
    assert "Failed to extract" in out["__reason"]


def test_extractor_rejects_bad_parameter_types():
    bad = [{"name": "x", "type": "date", "description": "", "required": True}]
    node = {"id": "pe", "type": "parameter-extractor", "model": MODEL, "query": ["start", "q"],
            "parameters": bad, "reasoning_mode": "prompt"}  # fmt: skip
    with pytest.raises(GraphValidationError, match=r"parameters\[0\].type"):
        graph([START, node], [("start", "pe")])


def test_extractor_dsl(fake_openai):
    fake_openai.queue_tool_calls(
        {"name": "extract_parameters", "arguments": {"name": "Ada", "age": 36, "vip": True}}
    )
    result = run_dsl_file("extractor_person.yml", {"text": "Ada, 36"}, ports=ports(fake_openai))
    assert result.status == "succeeded"
    assert result.outputs == {"name": "Ada", "age": 36, "vip": True, "ok": 1}
