"""The `/sarcasm` parser: a table of good and bad text, and fuzzing that only UsageError escapes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.admin.commands import (
    USAGE,
    Explore,
    ForgetMe,
    Help,
    Jobs,
    Mode,
    OptIn,
    OptOut,
    Promote,
    Retrain,
    Rollback,
    Stats,
    Status,
    Threshold,
    UsageError,
    parse_command,
    subcommand_of,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP retrain", Help(topic="retrain")),
        ("help forget_me", Help(topic="forget-me")),
        ("status", Status()),
        ("jobs", Jobs()),
        ("stats", Stats()),
        ("optout", OptOut()),
        ("opt-in", OptIn()),
        ("forget-me", ForgetMe()),
        ("retrain classifier", Retrain(task="classifier")),
        ("retrain Generator preference", Retrain(task="generator", method="preference")),
        ("retrain generator force sft", Retrain(task="generator", method="sft", force=True)),
        ("retrain classifier sft force", Retrain(task="classifier", force=True)),
        ("promote clf-20261125-AbC", Promote(version="clf-20261125-AbC")),
        ("promote generator g7", Promote(version="g7", task="generator")),
        ("rollback classifier", Rollback(task="classifier")),
        ("threshold 0.75", Threshold(value=0.75)),
        ("threshold 1", Threshold(value=1.0)),
        ("threshold 0", Threshold(value=0.0)),
        ("threshold 85%", Threshold(value=0.85)),
        ("explore 0.1", Explore(share=0.1)),
        ("explore 20%", Explore(share=0.2)),
        ("EXPLORE 0", Explore(share=0.0)),
        ("mode REPLY", Mode(mode="reply")),
        ("mode off", Mode(mode="off")),
    ],
)
def test_parses_good_text(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "subcommand", "says"),
    [
        ("dance", None, "Unknown subcommand `dance`"),
        ("threshold 7", "threshold", "not from 0 to 1"),
        ("threshold -0.1", "threshold", "not from 0 to 1"),
        ("threshold nan", "threshold", "not from 0 to 1"),
        ("threshold inf", "threshold", "not from 0 to 1"),
        ("threshold lots", "threshold", "not a number"),
        ("threshold", "threshold", "one number"),
        ("threshold 0.1 0.2", "threshold", "one number"),
        ("explore 0.3", "explore", "not from 0 to 0.2"),
        ("explore nan", "explore", "not from 0 to 0.2"),
        ("explore some", "explore", "not a number"),
        ("explore", "explore", "one number from 0 to 0.2"),
        ("mode loud", "mode", "not react, reply or off"),
        ("mode", "mode", "one of react"),
        ("retrain", "retrain", "which model"),
        ("retrain everything", "retrain", "not classifier or generator"),
        ("retrain classifier sft sft", "retrain", "Unexpected"),
        ("retrain classifier force force", "retrain", "Unexpected"),
        ("retrain classifier rlhf", "retrain", "Unexpected `rlhf`"),
        ("promote", "promote", "which version"),
        ("promote a b c", "promote", "which version"),
        ("promote model v1", "promote", "not classifier or generator"),
        ("rollback", "rollback", "which model"),
        ("rollback both", "rollback", "not classifier or generator"),
        ("status now", "status", "takes no arguments"),
        ("help me please", "help", "one subcommand"),
        ("help nosuch", "help", "one subcommand"),
    ],
)
def test_rejects_bad_text_with_usage(text: str, subcommand: str | None, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert says in str(caught.value)
    assert caught.value.subcommand == subcommand
    assert "/sarcasm" in caught.value.usage


def test_unknown_subcommand_usage_lists_every_subcommand_and_marks_admin_ones() -> None:
    with pytest.raises(UsageError) as caught:
        parse_command("frobnicate")
    usage = caught.value.usage
    for name in USAGE:
        assert f"/sarcasm {name}" in usage
    assert usage.count("(admins)") == 6  # retrain promote rollback threshold mode explore


def test_echoed_input_is_clipped_and_cannot_break_formatting() -> None:
    with pytest.raises(UsageError) as caught:
        parse_command("mode " + "`" * 500)
    assert len(str(caught.value)) < 100
    assert "``" not in str(caught.value).replace("`'", "")


def test_overlong_text_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_command("status " + "x" * 5000)


WORDS = st.sampled_from(
    [
        *USAGE,
        "classifier",
        "generator",
        "sft",
        "preference",
        "force",
        "react",
        "reply",
        "off",
        "0.5",
        "0.2",
        "20%",
        "7",
        "-1",
        "1e309",
        "nan",
        "50%",
        "%",
        "v1",
        "`",
        "*",
        "\u200b",
        "ß",
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.lists(WORDS | st.text(max_size=12), max_size=6), st.sampled_from([" ", "  ", "\t", "\n"]))
def test_fuzzed_text_parses_or_raises_usage_error_only(words: list[str], sep: str) -> None:
    try:
        command = parse_command(sep.join(words))
    except UsageError as error:
        message, usage = str(error), error.usage
        assert message
        assert usage
        return
    assert subcommand_of(command) in USAGE
    if isinstance(command, Threshold):
        assert 0.0 <= command.value <= 1.0
    if isinstance(command, Explore):
        assert 0.0 <= command.share <= 0.2


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_fuzzed_raw_text_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse_command(text)


def test_slack_retrains_with_sft_or_preference_but_never_reinforcement() -> None:
    # Reinforcement tuning spends money on Vertex AI: the CLI and the AUC-gated scheduler only.
    assert parse_command("retrain generator preference") == Retrain(
        task="generator", method="preference"
    )
    with pytest.raises(UsageError, match="Unexpected `reinforcement`"):
        parse_command("retrain generator reinforcement")
