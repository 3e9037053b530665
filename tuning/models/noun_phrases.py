"""Pick the noun phrase a complaint is about, by rule: no parser, no downloads.

A complaint names its subject as a noun phrase, usually after a determiner ("the printer",
"another meeting") and often right before the complaint ("... is broken again"). The chooser
splits the text into runs of words that are not function words, verbs, adverbs or
complaint adjectives (:mod:`tuning.models.word_lists`), and scores each run: a determiner in
front, a complaint verb after it and a few words each add to the score; people ("my manager")
and pronoun-like words take away. The best run, with its determiner turned towards the listener
("my laptop" -> "your laptop"), is the slot filler.

>>> subject("Ugh, my manager says the printer is broken again")
'the printer'
>>> subject("I just love waiting 40 minutes for the bus")
'the bus'
>>> subject("put it back") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tuning.models.word_lists import (
    ADJECTIVES,
    ADVERBS,
    COMPLAINT_VERBS,
    DETERMINERS,
    NOUN_VERBS,
    PEOPLE,
    is_verb,
)
from tuning.text import STOPWORDS

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*|[.,;:!?()\"]")
# Words in STOPWORDS that are nouns a complaint can be about.
_NOUNS = frozenset({"lunch", "weekend"})
_NUMBERS = frozenset(str.split("one two three four five six seven eight nine ten twenty hundred"))
_UNITS = frozenset(
    str.split("minute minutes hour hours day days week weeks month months year years")
)
_INTERJECTIONS = frozenset(
    str.split("ugh meh lol lmao omg wtf hmm sigh yay welp argh ah aw ooh ha haha")
)


@dataclass(frozen=True)
class Phrase:
    """A candidate noun phrase: its words as written, its determiner, and its score."""

    words: tuple[str, ...]
    determiner: str
    score: float
    proper: bool = False  # capitalised mid-sentence: a name ("Jira"), kept as written

    def text(self) -> str:
        """Return the phrase as a reply would say it, determiner turned towards the listener."""
        head = DETERMINERS.get(self.determiner.lower(), "")
        if not head and not self.proper and not self.words[-1].lower().endswith("s"):
            head = "the"  # a bare singular noun reads badly in a reply ("Ah yes, printer.")
        words = [w if self.proper or _acronym(w) else w.lower() for w in self.words]
        return " ".join([head, *words] if head else words)


def _acronym(word: str) -> bool:
    return len(word) > 1 and any(c.isupper() for c in word[1:])


def _plain(word: str) -> str:
    return word.lower().replace("’", "'").strip("'")


def _is_noun(word: str, *, after_determiner: bool) -> bool:
    """Return whether ``word`` can be part of a noun phrase here."""
    lower = _plain(word)
    if lower in _NOUNS or lower in NOUN_VERBS:
        return True
    if lower in DETERMINERS or lower in _NUMBERS or lower in _INTERJECTIONS:
        return False
    if lower in STOPWORDS or lower in ADVERBS or len(lower) < 2:
        return False
    if not lower[:1].isalpha():
        return False
    if after_determiner:  # "the meeting", "the update": a verb form can be a noun here
        return True
    # Unknown -ed and -ing words outside a determined phrase are verbs far more often than not.
    verbal = lower.endswith(("ed", "ing")) and len(lower) > 4 and not lower.endswith("eed")
    return (
        lower not in ADJECTIVES and not lower.endswith("ly") and not verbal and not is_verb(lower)
    )


def noun_phrases(text: str) -> list[Phrase]:
    """Return the candidate noun phrases of ``text``, best first (stable among equals)."""
    words = _TOKEN.findall(text)
    found: list[tuple[int, Phrase]] = []
    i = 0
    while i < len(words):
        before = _plain(words[i - 1]) if i else ""
        determined = before in DETERMINERS
        while i < len(words) and determined and _plain(words[i]) in ADJECTIVES:
            i += 1  # "the new roadmap": modifiers between the determiner and the noun
        if i >= len(words) or not _is_noun(words[i], after_determiner=determined):
            i += 1
            continue
        start = i
        i += 1
        while i < len(words) and i - start < 4 and _is_noun(words[i], after_determiner=False):
            i += 1
        run = tuple(words[start:i])
        after = _plain(words[i]) if i < len(words) else ""
        score = min(len(run), 3) * 0.5
        score += 2.0 if determined else 0.0
        score += 1.5 if after in COMPLAINT_VERBS else 0.0
        score -= 2.5 if _plain(run[-1]) in PEOPLE else 0.0
        score -= 1.0 if _plain(run[-1]) in _UNITS else 0.0  # "two hours" of traffic
        opener = _plain(words[start - 1]) if start else ""
        proper = run[0][:1].isupper() and opener not in {"", ".", "!", "?"}
        found.append((start, Phrase(run, before if determined else "", score, proper)))
    found.sort(key=lambda item: (-item[1].score, item[0]))
    return [phrase for _, phrase in found]


def subject(text: str) -> str | None:
    """Return the noun phrase ``text`` complains about, ready for a reply; None if it has none."""
    phrases = noun_phrases(text)
    return phrases[0].text() if phrases else None


def subjects(text: str, *, limit: int = 3) -> list[str]:
    """Return up to ``limit`` distinct noun phrases of ``text``, best first, ready for a reply.

    After the best, only phrases with some evidence (a determiner, a complaint verb after it, or
    two words) are kept: a lone unknown word is more often a verb or a name than a subject.
    """
    phrases = noun_phrases(text)
    kept = phrases[:1] + [p for p in phrases[1:] if p.score >= 1.0]
    return list(dict.fromkeys(p.text() for p in kept))[:limit]
