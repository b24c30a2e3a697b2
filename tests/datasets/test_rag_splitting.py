"""Splitting into general and parent-child chunks (pure; no database)."""

from __future__ import annotations

import itertools
import random

import pytest

from apps.datasets.rag import ParentChunk, count_tokens, split_general, split_parent_child
from apps.datasets.rag.splitting import FULL_DOC_MAX_TOKENS


def _words(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 10)))
        for _ in range(n)
    ]


def _english(sentences: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    words = _words(4000, seed)
    out = []
    for _ in range(sentences):
        count = rng.randint(4, 25)
        start = rng.randint(0, len(words) - count)
        out.append(" ".join(words[start : start + count]).capitalize() + ".")
    return " ".join(out)


CHINESE = "知识库把文档切成分段，然后为每个分段计算向量。检索时先找到最相近的分段。" * 60


def _assert_within(chunks: list[str], max_tokens: int) -> None:
    assert chunks
    for chunk in chunks:
        assert chunk == chunk.strip() and chunk
        assert count_tokens(chunk) <= max_tokens


def test_empty_and_blank_text_give_no_chunks() -> None:
    assert split_general("") == []
    assert split_general("   \n\n  \t ") == []
    assert split_parent_child("") == []
    assert split_parent_child(" \n ", parent_mode="full-doc") == []


def test_short_text_is_one_chunk() -> None:
    assert split_general("  Hello world.  ") == ["Hello world."]


def test_each_separator_piece_is_its_own_chunk() -> None:
    text = "First paragraph.\n\nSecond paragraph.\n\n\n\nThird.\n\n"
    assert split_general(text, separator="\n\n") == [
        "First paragraph.",
        "Second paragraph.",
        "Third.",
    ]


@pytest.mark.parametrize("separator", ["\\n", "\n"])
def test_escaped_and_plain_separators_are_the_same(separator: str) -> None:
    chunks = split_general("a\nb\nc", separator=separator, max_tokens=50, chunk_overlap=0)
    assert chunks == ["a", "b", "c"]


def test_custom_separators() -> None:
    assert split_general("one***two***three", separator="***") == ["one", "two", "three"]
    assert split_general("x\\ty", separator="\\t") == ["x\\ty"]  # no real tab in the text
    assert split_general("x\ty", separator="\\t") == ["x", "y"]
    assert split_general("甲。乙。丙", separator="。") == ["甲", "乙", "丙"]
    assert split_general("a\u2028b", separator="\\u2028") == ["a", "b"]


def test_long_english_respects_the_limit_and_overlaps() -> None:
    text = _english(400)
    chunks = split_general(text, separator="\n\n", max_tokens=200, chunk_overlap=80)
    _assert_within(chunks, 200)
    assert len(chunks) > 10
    # Chunks are filled close to the limit (sentence granularity).
    assert sum(count_tokens(c) for c in chunks) / len(chunks) > 120
    # Consecutive chunks share text: the next one starts with the tail of the previous one.
    shared = 0
    for previous, current in itertools.pairwise(chunks):
        first_sentence = current.split(". ")[0]
        if first_sentence and first_sentence in previous:
            shared += 1
    assert shared >= len(chunks) // 2
    # Nothing is lost: every sentence of the text is in some chunk.
    for sentence in text.split(". ")[:50]:
        assert any(sentence.strip(". ") in chunk for chunk in chunks)


def test_no_overlap_when_zero() -> None:
    text = _english(200)
    chunks = split_general(text, separator="\n\n", max_tokens=100, chunk_overlap=0)
    _assert_within(chunks, 100)
    assert len(" ".join(chunks)) <= len(text) + len(chunks)


def test_overlap_tokens_are_bounded() -> None:
    text = " ".join(_words(3000))
    chunks = split_general(text, separator="", max_tokens=80, chunk_overlap=20)
    _assert_within(chunks, 80)
    for previous, current in itertools.pairwise(chunks):
        # The overlap is whole words from the end of the previous chunk, at most 20 tokens.
        words = current.split(" ")
        k = max(i for i in range(len(words) + 1) if previous.endswith(" ".join(words[:i])))
        assert count_tokens(" ".join(words[:k])) <= 21


def test_chinese_text_is_split_at_sentence_ends() -> None:
    chunks = split_general(CHINESE, separator="\n\n", max_tokens=60, chunk_overlap=10)
    _assert_within(chunks, 60)
    assert all(chunk.endswith("。") for chunk in chunks)
    assert "".join(chunks).count("知识库") >= 60


def test_chinese_without_punctuation_is_cut_at_token_boundaries() -> None:
    text = "字" * 3000
    chunks = split_general(text, separator="\n\n", max_tokens=100, chunk_overlap=10)
    _assert_within(chunks, 100)
    assert "\ufffd" not in "".join(chunks)
    assert sum(len(c) for c in chunks) >= 3000


def test_a_word_longer_than_the_limit_is_cut() -> None:
    word = "supercalifragilistic" * 200
    chunks = split_general(f"short words here {word} and more", max_tokens=50, chunk_overlap=5)
    _assert_within(chunks, 50)
    assert chunks[0].startswith("short words here")
    assert chunks[-1].endswith("and more")
    text = f"short words here {word} and more"
    assert all(chunk in text for chunk in chunks)
    # Consecutive pieces of the word overlap (5 tokens) and together cover all of it.
    pieces = [c for c in chunks if "supercal" in c or "ragilistic" in c]
    assert sum(len(p) for p in pieces) > len(word)
    for previous, current in itertools.pairwise(pieces):
        assert previous[-8:] in current[:40] or current.startswith("and")


def test_long_lines_are_split_before_smaller_units() -> None:
    lines = [_english(12, seed=i) for i in range(6)]
    text = "\n".join(lines)
    chunks = split_general(text, separator="\n\n", max_tokens=400, chunk_overlap=0)
    _assert_within(chunks, 400)
    for chunk in chunks:
        assert all(line in text for line in chunk.split("\n"))


def test_emoji_and_mixed_scripts_stay_within_limits() -> None:
    text = ("Emoji 😀🎉 mixed with 中文 and Ελληνικά text. " * 200) + "🙂" * 500
    chunks = split_general(text, separator="\n\n", max_tokens=64, chunk_overlap=16)
    _assert_within(chunks, 64)
    assert "\ufffd" not in "".join(chunks)


@pytest.mark.parametrize("max_tokens", [50, 77, 500, 1000])
def test_limit_holds_for_many_sizes(max_tokens: int) -> None:
    text = "\n\n".join([_english(30, seed=s) for s in range(8)] + [CHINESE, "x" * 9000])
    for separator in ("\n\n", "\n", "", "。"):
        chunks = split_general(
            text, separator=separator, max_tokens=max_tokens, chunk_overlap=max_tokens // 5
        )
        _assert_within(chunks, max_tokens)


def test_automatic_style_no_separator_merges_paragraphs() -> None:
    text = "\n\n".join(f"Paragraph {i} is short." for i in range(100))
    chunks = split_general(text, separator="", max_tokens=100, chunk_overlap=10)
    _assert_within(chunks, 100)
    assert len(chunks) < 20
    assert "Paragraph 0 is short.\n\nParagraph 1 is short." in chunks[0]


@pytest.mark.parametrize(
    ("max_tokens", "overlap"), [(0, 0), (-5, 0), (100, 100), (100, 150), (100, -1)]
)
def test_invalid_limits_raise(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        split_general("text", max_tokens=max_tokens, chunk_overlap=overlap)


def test_paragraph_parent_child() -> None:
    parents_text = ["\n".join(f"Line {p}.{i} of the parent." for i in range(5)) for p in range(3)]
    result = split_parent_child(
        "\n\n".join(parents_text),
        parent_mode="paragraph",
        parent_separator="\\n\\n",
        parent_max_tokens=500,
        child_separator="\\n",
        child_max_tokens=50,
    )
    assert [p.content for p in result] == parents_text
    assert all(isinstance(p, ParentChunk) for p in result)
    assert result[1].children == [f"Line 1.{i} of the parent." for i in range(5)]


def test_paragraph_parents_respect_parent_limit_and_children_child_limit() -> None:
    text = "\n\n".join(_english(40, seed=s) for s in range(5))
    result = split_parent_child(
        text, parent_max_tokens=200, child_separator="\n", child_max_tokens=50, child_overlap=10
    )
    assert len(result) > 5
    for parent in result:
        assert count_tokens(parent.content) <= 200
        _assert_within(parent.children, 50)
        assert all(child.split(" ")[-1] in parent.content for child in parent.children)


def test_full_doc_is_one_parent() -> None:
    text = "\n".join(f"Row {i}: value {i * 3}" for i in range(40))
    result = split_parent_child(
        f"  {text}  ", parent_mode="full-doc", child_separator="\n", child_max_tokens=50
    )
    assert len(result) == 1
    assert result[0].content == text
    assert result[0].children == text.split("\n")


def test_full_doc_is_truncated_to_10000_tokens() -> None:
    text = " ".join(_words(20000))
    assert count_tokens(text) > FULL_DOC_MAX_TOKENS
    [parent] = split_parent_child(text, parent_mode="full-doc", child_max_tokens=1000)
    assert count_tokens(parent.content) <= FULL_DOC_MAX_TOKENS
    assert text.startswith(parent.content)
    assert count_tokens(parent.content) > FULL_DOC_MAX_TOKENS - 10
    _assert_within(parent.children, 1000)


def test_invalid_parent_mode() -> None:
    with pytest.raises(ValueError, match="parent_mode"):
        split_parent_child("text", parent_mode="sentence")
    with pytest.raises(ValueError):
        split_parent_child("text", child_max_tokens=10, child_overlap=10)
