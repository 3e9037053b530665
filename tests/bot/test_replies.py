"""Pure reply helpers: splitting to Slack's limits, mentions, blocks."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.views.replies import (
    MAX_MESSAGE_CHARS,
    TRY_AGAIN_ACTION,
    build_reply_blocks,
    flag_text,
    mentions_user,
    split_text,
    strip_mentions,
)


def test_short_text_is_one_chunk():
    assert split_text("  hello there  ") == ["hello there"]


def test_long_text_splits_at_word_breaks():
    words = ["word"] * 1000  # 4,999 characters
    chunks = split_text(" ".join(words), limit=300)
    assert all(len(c) <= 300 for c in chunks)
    assert " ".join(chunks).split() == words


def test_prefers_paragraph_breaks():
    text = "a" * 200 + "\n\n" + "b" * 200
    assert split_text(text, limit=300) == ["a" * 200, "b" * 200]


def test_unbroken_text_is_cut_at_the_limit():
    assert split_text("x" * 700, limit=300) == ["x" * 300, "x" * 300, "x" * 100]


def test_total_is_trimmed_with_an_ellipsis():
    chunks = split_text("y " * 30_000)
    joined = "".join(chunks)
    assert len(joined) <= 40_000
    assert joined.endswith("…")
    assert all(len(c) <= MAX_MESSAGE_CHARS for c in chunks)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=2000), st.integers(min_value=20, max_value=400))
def test_split_never_exceeds_the_limit_nor_loses_words(text, limit):
    chunks = split_text(text, limit=limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> how are you", "how are you"),
        ("hey <@UBOT|sarcasm-bot>   there", "hey there"),
        ("<@UBOT>", ""),
        ("<@UOTHER> is great <@UBOT>", "<@UOTHER> is great"),
    ],
)
def test_strip_mentions(text, expected):
    assert strip_mentions(text, bot_user_id="UBOT") == expected


def test_mentions_user():
    assert mentions_user("hi <@UBOT>", user_id="UBOT")
    assert mentions_user("hi <@UBOT|bot>", user_id="UBOT")
    assert not mentions_user("hi <@UBOTX>", user_id="UBOT")
    assert not mentions_user("hi <@UBOT>", user_id="")


def test_reply_blocks_have_a_try_again_button_only_when_recorded():
    recorded = build_reply_blocks("ha", interaction_id="abc")
    assert recorded[1]["elements"][0]["action_id"] == TRY_AGAIN_ACTION
    assert recorded[1]["elements"][0]["value"] == "abc"
    assert [b["type"] for b in build_reply_blocks("ha", interaction_id=None)] == ["section"]


@pytest.mark.parametrize(
    ("p", "text"), [(0.87, "Sarcasm detected (87%)"), (1.0, "Sarcasm detected (100%)")]
)
def test_flag_text(p, text):
    assert flag_text(p) == text
