"""A cheap check that a candidate reply reads as plausible English, to drop broken fills.

It catches what slot filling and phrase swapping break: a doubled word ("the the"), a determiner
or preposition with nothing after it, a leftover ``{slot}``, unbalanced brackets or quotes, and
a slot that ended up holding a verb or an adjective on its own.

>>> reads_well("Ah yes, the printer. My favourite kind of surprise.")
True
>>> reads_well("Ah yes, put. My favourite kind of surprise.")
False
>>> reads_well("Nothing says 'peak productivity' quite like worse.")
False
"""

from __future__ import annotations

import itertools
import re

from tuning.models.word_lists import ADJECTIVES, DETERMINERS, is_verb

_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
# Words that cannot end a clause ("this", "that" and "her" can: they are pronouns too).
_DANGLING = frozenset({*DETERMINERS, "of", "and", "or"} - {"this", "that", "these", "those", "her"})
# A lone word after a comma or colon (or after "like"/"about") where a noun phrase belongs.
_LONE_SLOT = re.compile(r"(?:[,:;]\s+|\b(?:like|about|for|with)\s+)([A-Za-z'’\-]+)(?=[.?!,:;])")
# Single words that make a fine clause on their own.
_INTERJECTIONS = frozenset(
    str.split("thanks great sure perfect wow fantastic lovely nice fine cool brilliant splendid")
    + str.split("amazing wonderful again really seriously please stop see")
)


def reads_well(text: str) -> bool:
    """Return whether ``text`` passes the cheap plausibility checks (see the module docstring)."""
    if not text.strip() or "{" in text or "}" in text:
        return False
    if text.count("(") != text.count(")") or text.count('"') % 2:
        return False
    for clause in re.split(r"[.?!,:;]", text):
        words = [w.lower() for w in _WORD.findall(clause)]
        if any(a == b for a, b in itertools.pairwise(words)):
            return False
        if words and words[-1] in _DANGLING:
            return False
    for match in _LONE_SLOT.finditer(text):
        word = match.group(1).lower()
        if word not in _INTERJECTIONS and (word in ADJECTIVES or is_verb(word)):
            return False
    return True
