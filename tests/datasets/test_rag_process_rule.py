"""Parsing Dify's process_rule (pure; no database)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.datasets.rag import ProcessRuleError, process_rule_settings, split_general
from apps.datasets.rag.process_rule import AUTOMATIC_RULES


def _custom(**segmentation: Any) -> dict[str, Any]:
    return {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": True},
                {"id": "remove_urls_emails", "enabled": False},
            ],
            "segmentation": {"separator": "\\n", "max_tokens": 300, **segmentation},
        },
    }


@pytest.mark.parametrize(
    "rule", [None, {}, {"mode": "automatic"}, {"mode": "automatic", "rules": 5}]
)
def test_automatic_is_difys_default(rule: dict[str, Any] | None) -> None:
    settings = process_rule_settings(rule)
    assert settings.mode == "automatic"
    assert (settings.max_tokens, settings.chunk_overlap) == (500, 50)
    assert settings.separator == ""
    assert settings.pre_processing_rules == [
        {"id": "remove_extra_spaces", "enabled": True},
        {"id": "remove_urls_emails", "enabled": False},
    ]
    assert settings.as_process_rule() == {"mode": "automatic", "rules": AUTOMATIC_RULES}
    text = "\n".join(f"Line {i} of a document." for i in range(300))
    chunks = split_general(text, **settings.general_kwargs())
    assert 1 < len(chunks) < 20  # lines are merged up to 500 tokens


def test_custom_rule() -> None:
    settings = process_rule_settings(_custom(chunk_overlap=20))
    assert settings.mode == "custom"
    assert settings.separator == "\n"
    assert (settings.max_tokens, settings.chunk_overlap) == (300, 20)
    assert settings.general_kwargs() == {"separator": "\n", "max_tokens": 300, "chunk_overlap": 20}
    assert settings.as_process_rule()["rules"]["segmentation"] == {
        "separator": "\\n",
        "max_tokens": 300,
        "chunk_overlap": 20,
    }


def test_custom_overlap_defaults_to_zero_and_rules_are_deduplicated() -> None:
    rule = _custom()
    rule["rules"]["pre_processing_rules"].append({"id": "remove_extra_spaces", "enabled": False})
    settings = process_rule_settings(rule)
    assert settings.chunk_overlap == 0
    assert settings.pre_processing_rules == [
        {"id": "remove_extra_spaces", "enabled": False},
        {"id": "remove_urls_emails", "enabled": False},
    ]


def test_missing_pre_processing_rules_enable_nothing() -> None:
    rule = {"mode": "custom", "rules": {"segmentation": {"separator": "###", "max_tokens": 100}}}
    assert process_rule_settings(rule).pre_processing_rules == []


def test_hierarchical_paragraph() -> None:
    rule = {
        "mode": "hierarchical",
        "rules": {
            "pre_processing_rules": [],
            "segmentation": {"separator": "\\n\\n", "max_tokens": 1000},
            "parent_mode": "paragraph",
            "subchunk_segmentation": {"separator": "\\n", "max_tokens": 200, "chunk_overlap": 10},
        },
    }
    settings = process_rule_settings(rule)
    assert settings.parent_child_kwargs() == {
        "parent_mode": "paragraph",
        "parent_separator": "\n\n",
        "parent_max_tokens": 1000,
        "child_separator": "\n",
        "child_max_tokens": 200,
        "child_overlap": 10,
    }
    echoed = settings.as_process_rule()
    assert echoed["mode"] == "hierarchical"
    assert echoed["rules"]["parent_mode"] == "paragraph"
    assert echoed["rules"]["subchunk_segmentation"]["max_tokens"] == 200


def test_hierarchical_full_doc_needs_no_parent_segmentation() -> None:
    rule = {
        "mode": "hierarchical",
        "rules": {
            "parent_mode": "full-doc",
            "subchunk_segmentation": {"separator": "\\n", "max_tokens": 300},
        },
    }
    settings = process_rule_settings(rule)
    assert settings.parent_mode == "full-doc"
    assert settings.parent_child_kwargs()["child_max_tokens"] == 300


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("custom", "process_rule"),
        ({"mode": ""}, "process_rule.mode"),
        ({"rules": {}}, "process_rule.mode"),
        ({"mode": "smart"}, "process_rule.mode"),
        ({"mode": "custom"}, "process_rule.rules"),
        ({"mode": "custom", "rules": ["x"]}, "process_rule.rules"),
        (
            {"mode": "custom", "rules": {"pre_processing_rules": {}}},
            "process_rule.rules.pre_processing_rules",
        ),
        (
            {"mode": "custom", "rules": {"pre_processing_rules": [{"enabled": True}]}},
            "process_rule.rules.pre_processing_rules.id",
        ),
        (
            {"mode": "custom", "rules": {"pre_processing_rules": [{"id": "x", "enabled": True}]}},
            "process_rule.rules.pre_processing_rules.id",
        ),
        (
            {
                "mode": "custom",
                "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": 1}]},
            },
            "process_rule.rules.pre_processing_rules.enabled",
        ),
        ({"mode": "custom", "rules": {"x": 1}}, "process_rule.rules.segmentation"),
        (_custom(separator=""), "process_rule.rules.segmentation.separator"),
        (_custom(separator=5), "process_rule.rules.segmentation.separator"),
        (_custom(max_tokens=None), "process_rule.rules.segmentation.max_tokens"),
        (_custom(max_tokens="500"), "process_rule.rules.segmentation.max_tokens"),
        (_custom(max_tokens=True), "process_rule.rules.segmentation.max_tokens"),
        (_custom(max_tokens=49), "process_rule.rules.segmentation.max_tokens"),
        (_custom(max_tokens=4001), "process_rule.rules.segmentation.max_tokens"),
        (_custom(chunk_overlap=-1), "process_rule.rules.segmentation.chunk_overlap"),
        (_custom(chunk_overlap=300), "process_rule.rules.segmentation.chunk_overlap"),
        (_custom(chunk_overlap=1.5), "process_rule.rules.segmentation.chunk_overlap"),
        (
            {"mode": "hierarchical", "rules": {"parent_mode": "chapter"}},
            "process_rule.rules.parent_mode",
        ),
        (
            {"mode": "hierarchical", "rules": {"parent_mode": "paragraph"}},
            "process_rule.rules.segmentation",
        ),
        (
            {"mode": "hierarchical", "rules": {"parent_mode": "full-doc"}},
            "process_rule.rules.subchunk_segmentation",
        ),
        (
            {
                "mode": "hierarchical",
                "rules": {
                    "parent_mode": "full-doc",
                    "subchunk_segmentation": {"separator": "\\n", "max_tokens": 10},
                },
            },
            "process_rule.rules.subchunk_segmentation.max_tokens",
        ),
    ],
)
def test_invalid_rules_name_the_field(rule: Any, field: str) -> None:
    with pytest.raises(ProcessRuleError) as caught:
        process_rule_settings(rule)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(field + " ")


def test_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH", "1000")
    with pytest.raises(ProcessRuleError, match="between 50 and 1000"):
        process_rule_settings(_custom(max_tokens=1001))
    monkeypatch.setenv("INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH", "8000")
    assert process_rule_settings(_custom(max_tokens=8000)).max_tokens == 8000
    assert process_rule_settings(_custom(max_tokens=900), max_tokens_limit=900).max_tokens == 900
