"""Dify's pre-processing rules and default clean (pure; no database)."""

from __future__ import annotations

from apps.datasets.rag import clean_text
from apps.datasets.rag.tokens import count_tokens, token_windows, truncate_tokens

SPACES = [{"id": "remove_extra_spaces", "enabled": True}]
URLS = [{"id": "remove_urls_emails", "enabled": True}]


def test_default_clean_removes_control_characters_and_special_token_markers() -> None:
    text = "a\x00b\x07c\x0bd\x0ce\x1ff\x7fg\ufffeh\ti\nj\rk <|endoftext|>"
    assert clean_text(text, []) == "abcdefgh\ti\nj\rk <endoftext>"


def test_default_clean_keeps_unicode_text() -> None:
    text = "Café ï ¿ ¾ 你好 😀"
    assert clean_text(text, []) == text
    assert clean_text(text, None) == text


def test_remove_extra_spaces() -> None:
    text = "a  b\t\tc \u3000d\u00a0 e\n\n\n\nf\n\ng\nh"
    assert clean_text(text, SPACES) == "a b c d e\n\nf\n\ng\nh"


def test_rules_that_are_disabled_do_nothing() -> None:
    text = "a    b mail@example.com https://example.com\n\n\n\nc"
    rules = [
        {"id": "remove_extra_spaces", "enabled": False},
        {"id": "remove_urls_emails", "enabled": False},
        {"id": "remove_stopwords", "enabled": True},
    ]
    assert clean_text(text, rules) == text


def test_remove_urls_and_emails() -> None:
    text = (
        "Write to john.doe+x@mail.example.co.uk or see https://example.com/a?b=1 and http://x.y/z."
    )
    assert clean_text(text, URLS) == "Write to  or see  and "


def test_remove_urls_keeps_markdown_links_and_images() -> None:
    text = (
        "See [the docs](https://docs.example.com/page) and ![a chart](https://img.example.com/c.png)"
        " but not https://tracker.example.com/p ok"
    )
    assert clean_text(text, URLS) == (
        "See [the docs](https://docs.example.com/page) and "
        "![a chart](https://img.example.com/c.png) but not  ok"
    )


def test_both_rules_in_order() -> None:
    text = "Visit   https://example.com   now\n\n\n\nbye"
    assert clean_text(text, [*URLS, *SPACES]) == "Visit now\n\nbye"


def test_count_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # plain text, not a special token


def test_token_windows_and_truncation() -> None:
    text = "lorem ipsum dolor sit amet " * 100
    windows = token_windows(text, 40, 10)
    assert all(count_tokens(w) <= 40 for w in windows)
    assert windows[0] == truncate_tokens(text, 40)
    assert text.startswith(windows[0])
    assert truncate_tokens("short", 10) == "short"
    assert truncate_tokens("", 10) == ""
