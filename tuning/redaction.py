"""Remove personal data from text before it is stored or sent to a tuning service.

Pure functions with one shared set of patterns, so :func:`find_pii` never reports what
:func:`redact` would leave in place. The placeholders (``[email]``, ``[phone]``, ``[key]``, and
``@user`` / ``#channel`` for Slack references) are themselves clean.

>>> redact("mail bob@example.com or call +1 (415) 555-0100, cc <@U123ABC> in <#C42|ops>")
'mail [email] or call [phone], cc @user in #channel'
>>> find_pii("token xoxb-123456789012-abcdefABCDEF")
['key']
>>> find_pii("nothing to see here")
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Order matters: keys first (a token may contain digit runs that look like phone numbers),
# then Slack mentions, e-mail addresses and phone numbers.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "key",
        re.compile(
            r"\bxox[abposre]-[A-Za-z0-9-]{8,}"  # Slack tokens
            r"|\bxapp-[A-Za-z0-9-]{8,}"
            r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
            r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
            r"|\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # OpenAI / Stripe style secret keys
            r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
            # Any long run of letters and digits that mixes both: hashes, bearer tokens.
            r"|\b(?=[A-Za-z_-]*\d)(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}"
        ),
    ),
    ("user", re.compile(r"<(?:@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")),
    ("channel", re.compile(r"<#[CG][A-Z0-9]+(?:\|[^>]*)?>")),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    # 9 to 15 digits, optionally with a leading +, spaces, dots, dashes or brackets between them
    # (E.164 allows at most 15 digits). Dates such as 2026-11-25 have only 8.
    ("phone", re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?!\w|\.\d)")),
)
PII_KINDS: tuple[str, ...] = tuple(kind for kind, _ in _PATTERNS)
# Slack references read naturally as @user and #channel; the rest get a bracketed kind.
_PLACEHOLDERS = {kind: f"[{kind}]" for kind in PII_KINDS} | {"user": "@user", "channel": "#channel"}
# Cheap tests that a pattern could match at all, so a clean message costs a few fast scans
# instead of four full ones (the e-mail pattern backtracks over every word).
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_-]{12}|-----BEGIN")
_NINE_DIGITS = re.compile(r"\d(?:[\s().-]{0,2}\d){8}")
_GATES: dict[str, Callable[[str], bool]] = {
    "key": lambda text: _LONG_TOKEN.search(text) is not None,
    "user": lambda text: "<" in text,
    "channel": lambda text: "<#" in text,
    "email": lambda text: "@" in text,
    "phone": lambda text: _NINE_DIGITS.search(text) is not None,
}


def redact(text: str) -> str:
    """Return ``text`` with e-mails, phone numbers, keys and Slack references replaced."""
    for kind, pattern in _PATTERNS:
        if _GATES[kind](text):
            text = pattern.sub(_PLACEHOLDERS[kind], text)
    return text


def find_pii(text: str) -> list[str]:
    """Return the kinds of personal data found in ``text`` (one per match), or an empty list."""
    found: list[str] = []
    for kind, pattern in _PATTERNS:
        if _GATES[kind](text):
            # Replace as we go, exactly like redact(), so one secret is reported once.
            text, count = pattern.subn(_PLACEHOLDERS[kind], text)
            found.extend([kind] * count)
    return found
