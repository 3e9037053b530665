"""The reaction → rating table, including skin tones and unknown reactions."""

import pytest

from bot.work.reaction_ratings import DEFAULT_FEEDBACK_MAP, FeedbackMap, base_reaction


@pytest.mark.parametrize(
    ("kind", "reaction", "rating"),
    [
        ("generate", "+1", 1),
        ("generate", "thumbsup", 1),
        ("generate", "joy", 1),
        ("generate", "laughing", 1),
        ("generate", "-1", -1),
        ("generate", "thumbsdown", -1),
        ("generate", "unamused", -1),
        ("generate", "face_palm", -1),
        ("generate", "+1::skin-tone-2", 1),
        ("generate", "thumbsdown::skin-tone-6", -1),
        ("generate", "white_check_mark", None),
        ("generate", "hourglass_flowing_sand", None),
        ("classify", "white_check_mark", 1),
        ("classify", "heavy_check_mark", 1),
        ("classify", "x", -1),
        ("classify", "no_entry_sign", -1),
        ("classify", "+1", None),
        ("classify", "upside_down_face", None),
        ("classify", "", None),
    ],
)
def test_default_map(kind, reaction, rating):
    assert DEFAULT_FEEDBACK_MAP.rating(kind, reaction) == rating


@pytest.mark.parametrize(
    ("name", "base"),
    [("thumbsup", "thumbsup"), ("thumbsup::skin-tone-3", "thumbsup"), ("Joy", "joy")],
)
def test_base_reaction(name, base):
    assert base_reaction(name) == base


def test_custom_map_replaces_defaults():
    custom = FeedbackMap(generate={"fire": 1}, classify={"thinking_face": -1})
    assert custom.rating("generate", "fire::skin-tone-2") == 1
    assert custom.rating("generate", "thumbsup") is None
    assert custom.rating("classify", "thinking_face") == -1


@pytest.mark.parametrize("table", [{"fire": 2}, {"fire::skin-tone-2": 1}, {"Fire": 1}])
def test_bad_mapping_is_refused(table):
    with pytest.raises(ValueError, match="bad feedback mapping"):
        FeedbackMap(generate=table)
