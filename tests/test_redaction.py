"""Redaction: what counts as personal data, and that redacted text is clean."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuning.redaction import find_pii, redact


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("write to bob.smith+x@example.co.uk", "write to [email]", ["email"]),
        ("call 555-123-4567 now", "call [phone] now", ["phone"]),
        ("+44 20 7946 0958", "[phone]", ["phone"]),
        ("ask <@U0123ABC> or <@W99|bob>", "ask @user or @user", ["user", "user"]),
        ("see <#C0123ABC|ops> and <#G42>", "see #channel and #channel", ["channel", "channel"]),
        ("ping <!subteam^S0123|devs>", "ping @user", ["user"]),
        ("xoxb-123456789012-abcdefABCDEF", "[key]", ["key"]),
        ("AKIAABCDEFGHIJKLMNOP leaked", "[key] leaked", ["key"]),
        ("sha 3f2a9c0d1e4b5a6978877665544332211ffeeaa", "sha [key]", ["key"]),
        # Things that are not personal data stay.
        ("see you on 2026-11-25", "see you on 2026-11-25", []),
        ("pi is 3.14159", "pi is 3.14159", []),
        ("Oh great, another meeting", "Oh great, another meeting", []),
        ("channel <#C123|general>", "channel #channel", ["channel"]),
        ("a" * 40, "a" * 40, []),
        ("slack ts 1700000000.000100", "slack ts 1700000000.000100", []),
    ],
)
def test_redact_table(text: str, expected: str, kinds: list[str]) -> None:
    assert redact(text) == expected
    assert find_pii(text) == kinds
    assert find_pii(redact(text)) == []


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_redacted_text_is_clean_and_stable(text: str) -> None:
    once = redact(text)
    assert find_pii(once) == []
    assert redact(once) == once
