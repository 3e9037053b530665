"""Pure text helpers shared by the local models: normalisation, tokens and key phrases.

>>> normalize("  Oh GREAT,   another   meeting!! ")
'oh great, another meeting!!'
>>> normalize("STRASSE") == normalize("Straße")
True
>>> key_phrases("Can we have a quick meeting about the new deploy pipeline?")
['quick meeting', 'new deploy pipeline']
"""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_CHARS = 4000  # longer inputs are refused: no chat message worth classifying is longer

_WORDS = re.compile(r"[a-z0-9][a-z0-9'’\-]*")
# Function words, pronouns, auxiliaries and chat filler: they split a message into noun-ish chunks.
STOPWORDS = frozenset(
    str.split(
        """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll
    i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
    not of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves
    then there there's these they they'd they'll they're they've this those through to too under
    until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's will with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves just really still already yet again ever even
    now today tomorrow yesterday oh wow yeah yes ok okay sure well so like lol please thanks
    thank hey hi hello guys everyone anyone someone something anything nothing everything got
    get gets getting go goes going gone went make makes made making know knows think thinks
    want wants need needs love loves great good nice totally absolutely definitely apparently
    one ones thing things way lot lots bit much many again always never maybe probably quick
    work works worked working fail fails failed failing broke breaks broken crashed crashes
    died dies changed changes moved keeps kept said says told asked started finished happened
    """
    )
)
# Determiners kept in front of a phrase for replies, seen from the replier's side ("my" -> "your").
_DETERMINERS = {"the": "the", "my": "your", "our": "your", "your": "my", "this": "this"}
# Words that look like content but make poor key phrases on their own.
_WEAK = frozenset({"quick", "new", "big", "little", "same", "whole", "last", "next", "first"})


def normalize(text: str) -> str:
    """Return ``text`` as compared everywhere: NFKC, case-folded, single-spaced, stripped.

    The one rule for de-duplicating base data and datasets, keying splits and matching words.
    ``casefold`` rather than ``lower``: it is Unicode's rule for caseless matching, so "Straße"
    and "STRASSE" are one text ("ß".lower() stays "ß"), and dataset keys already used it.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> list[str]:
    """Return the lower-case word tokens of ``text``."""
    return _WORDS.findall(normalize(text).replace("’", "'"))


def content_words(text: str) -> set[str]:
    """Return the tokens of ``text`` that are not stopwords."""
    return {word for word in tokens(text) if word not in STOPWORDS and len(word) > 1}


def key_phrases(text: str, *, limit: int = 3, determiners: bool = False) -> list[str]:
    """Return the ``limit`` longest noun-ish chunks of ``text`` (split on stopwords), in order.

    With ``determiners``, a chunk keeps the determiner before it, turned towards the listener
    ("my laptop" -> "your laptop"), so it reads naturally inside a reply.
    """
    chunks: list[list[str]] = [[]]
    heads: list[str] = [""]
    for raw in re.split(r"([.,;:!?()\"]|\s+)", normalize(text).replace("’", "'")):
        word = raw.strip().strip("'-")
        if not word:
            continue
        if not _WORDS.fullmatch(word) or (word in STOPWORDS and word not in _WEAK):
            chunks.append([])
            heads.append(_DETERMINERS.get(word, ""))
            continue
        chunks[-1].append(word)
    phrases = []
    for chunk, head in zip(chunks, heads, strict=True):
        while chunk and chunk[-1] in _WEAK:  # "the build again new" -> "the build"
            chunk.pop()
        if chunk and any(word not in _WEAK for word in chunk):
            words = chunk[:4]
            phrases.append(" ".join([head, *words] if determiners and head else words))
    unique = list(dict.fromkeys(phrases))
    longest = sorted(unique, key=lambda phrase: -len(phrase.split()))[:limit]
    return [phrase for phrase in unique if phrase in longest]


def relevance(prompt: str, reply: str) -> float:
    """Return the share of the prompt's content words that the reply mentions (0 to 1)."""
    wanted = content_words(prompt)
    if not wanted:
        return 0.0
    return len(wanted & content_words(reply)) / len(wanted)
