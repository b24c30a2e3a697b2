"""DSL files: load, validate, run, export; export of an import re-imports identically."""

import pytest
import yaml

from apps.workflows.engine.dsl import CURRENT_VERSION, DSLError, dump_dsl, load_dsl
from tests.workflows.helpers import DSL_DIR, run_dsl_file


def test_roundtrip_file_runs():
    result = run_dsl_file("roundtrip_workflow.yml", {"name": "Ada", "bag": {"items": ["a", "b"]}})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"greeting": "Hello, Ada!", "items": ["A", "B"]}


def test_dump_keeps_everything_and_blanks_secrets():
    text = (DSL_DIR / "roundtrip_workflow.yml").read_text()
    original = yaml.safe_load(text)
    dumped = yaml.safe_load(dump_dsl(load_dsl(text).document))
    assert dumped["version"] == CURRENT_VERSION
    secret = next(
        v for v in dumped["workflow"]["environment_variables"] if v["name"] == "api_token"
    )
    assert secret["value"] == ""
    # everything else, editor-only keys included, is unchanged
    dumped["version"] = original["version"]
    secret["value"] = "tok-123-secret"
    assert dumped == original
    assert load_dsl(dump_dsl(load_dsl(text).document)).graph == original["workflow"]["graph"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list", "YAML mapping"),
        ("kind: app\napp: {name: x, mode: robot}", "app.mode"),
        ("kind: plugin\napp: {name: x, mode: workflow}", "kind"),
        ("kind: app\napp: {name: x, mode: workflow}", "workflow.graph"),
        ("kind: app\napp: {name: x, mode: workflow}\nworkflow: {graph: {nodes: "
         "[{id: a, data: {type: start}}, {id: b, data: {type: warp-drive}}], edges: []}}",
         "unknown node type 'warp-drive'"),
        ("a: [unclosed", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_files_give_clear_errors(text, message):
    with pytest.raises(DSLError, match=message.replace("(", r"\(")):
        load_dsl(text)


def test_newer_version_is_a_warning_not_an_error():
    text = (
        (DSL_DIR / "roundtrip_workflow.yml").read_text().replace("version: 0.1.5", "version: 9.0.0")
    )
    assert any("newer" in w for w in load_dsl(text).warnings)
