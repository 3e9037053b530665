"""Features of a candidate reply to a prompt, for the reward model: named ones plus hashed n-grams.

A row is ``[named | reply words | reply chars | reply with the topic abstracted | topic x reply]``:

* named features (:data:`NAMED`): the hand-made ones (relevance, length, question, ...), length
  buckets, whether the reply names the prompt's topic, and that crossed with length, so a
  linear model can say "short *and* on topic";
* hashed word 1-2 grams and char_wb 3-5 grams of the reply (its wording and tone);
* hashed word 1-3 grams of the reply with the prompt's subject (:mod:`noun_phrases`) replaced by
  ``topicword`` and its other words by ``promptword`` ("oh great, the topicword again"), which
  carry a taste over to prompts about other things;
* hashed "prompt subject x reply word" tokens, for tastes about particular subjects.

Hashing needs no vocabulary, so a model is a fixed-length weight vector (JSON-serialisable).

>>> row = feature_rows(["the printer is jammed"], ["Ah, the printer. Again?"], [0.5])
>>> row.shape == (1, N_FEATURES)
True
>>> float(row[0, NAMED.index("mentions_topic")]), float(row[0, NAMED.index("short_topic")])
(1.0, 1.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize as l2_rows

from tuning.models.noun_phrases import subject
from tuning.text import content_words, key_phrases, normalize, relevance, tokens

LEGACY = (  # format-1 features, kept first and unchanged so old weights mean what they meant
    "relevance",  # share of the prompt's content words the reply mentions
    "phrase_overlap",  # share of the prompt's key phrases quoted in the reply
    "sarcasm",  # the classifier's probability that the reply is sarcastic
    "length",  # words, capped at 40, scaled to 0-1
    "too_long",  # over 30 words: Slack replies should be short
    "question",  # asks a (rhetorical) question
    "exclaim",  # exclamation marks, capped at 3, scaled to 0-1
    "ellipsis",  # trailing off...
    "emoji",  # a unicode emoji or a :shortcode:
    "markers",  # classic sarcasm markers (oh, great, sure, wow, ...), capped at 3, scaled
    "echo",  # repeats the whole prompt back
)
LENGTH_BUCKETS = ((1, 6), (7, 10), (11, 15), (16, 22), (23, 10_000))  # words, inclusive
NAMED = (
    *LEGACY,
    *(f"words_{lo}_{hi}" if hi < 10_000 else f"words_{lo}_up" for lo, hi in LENGTH_BUCKETS),
    "mentions_topic",  # names the head noun of what the prompt complains about
    "short_topic",  # names the topic in at most 10 words
    "long_topic",  # names the topic in more than 10 words
    "ends_question",  # the last sentence is a question
    "sarcasm_high",  # the classifier is fairly sure (p >= 0.7)
)
WORD_BITS, CHAR_BITS, TOPIC_BITS, CROSS_BITS = 2**13, 2**13, 2**12, 2**12
N_FEATURES = len(NAMED) + WORD_BITS + CHAR_BITS + TOPIC_BITS + CROSS_BITS
TOPIC_TOKEN, PROMPT_TOKEN = "topicword", "promptword"

_MARKERS = frozenset(
    str.split(
        "oh wow great sure totally clearly obviously love fantastic wonderful brilliant shocked "
        "thrilled perfect amazing definitely absolutely riveted groundbreaking"
    )
)
_EMOJI = re.compile(r":[a-z0-9_+\-]+:|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
# Stateless and deterministic (murmurhash with a fixed seed): safe to share across threads.
_WORDS = HashingVectorizer(
    ngram_range=(1, 2), n_features=WORD_BITS, alternate_sign=False, binary=True, norm="l2"
)
_CHARS = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(3, 5),
    n_features=CHAR_BITS,
    alternate_sign=False,
    binary=True,
    norm="l2",
)
_TOPIC = HashingVectorizer(
    ngram_range=(1, 3), n_features=TOPIC_BITS, alternate_sign=False, binary=True, norm="l2"
)
_CROSS = FeatureHasher(n_features=CROSS_BITS, input_type="string", alternate_sign=False)


def topic_words(prompt: str) -> set[str]:
    """Return the head word of the noun phrase the prompt complains about (empty if none)."""
    found = subject(prompt)
    return {tokens(found)[-1]} if found and tokens(found) else set()


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def legacy_features(prompt: str, reply: str, *, sarcasm: float = 0.5) -> list[float]:
    """Return the format-1 named features of ``reply`` to ``prompt``, in :data:`LEGACY` order."""
    words = tokens(reply)
    phrases = key_phrases(prompt)
    said = normalize(reply)
    prompt_norm = normalize(prompt)
    return [
        relevance(prompt, reply),
        sum(phrase in said for phrase in phrases) / len(phrases) if phrases else 0.0,
        float(sarcasm),
        min(len(words), 40) / 40,
        float(len(words) > 30),
        float("?" in reply),
        min(reply.count("!"), 3) / 3,
        float("..." in reply or "…" in reply),
        float(bool(_EMOJI.search(reply))),
        min(sum(word in _MARKERS for word in words), 3) / 3,
        float(bool(content_words(prompt)) and len(prompt_norm) > 3 and prompt_norm in said),
    ]


def named_features(prompt: str, reply: str, *, sarcasm: float = 0.5) -> list[float]:
    """Return the named features of ``reply`` to ``prompt``, in :data:`NAMED` order."""
    count = len(tokens(reply))
    topic = {_stem(w) for w in topic_words(prompt)}
    mentions = bool(topic & {_stem(w) for w in tokens(reply)})
    return [
        *legacy_features(prompt, reply, sarcasm=sarcasm),
        *(float(lo <= count <= hi) for lo, hi in LENGTH_BUCKETS),
        float(mentions),
        float(mentions and count <= 10),
        float(mentions and count > 10),
        float(reply.rstrip().rstrip(")\"'").endswith("?")),
        float(sarcasm >= 0.7),
    ]


def abstract_topic(prompt: str, reply: str) -> str:
    """Return ``reply`` with the prompt's subject as ``topicword``, other words ``promptword``."""
    topic = {_stem(w) for w in topic_words(prompt)}
    other = {_stem(w) for w in content_words(prompt)} - topic
    return " ".join(
        TOPIC_TOKEN if _stem(w) in topic else PROMPT_TOKEN if _stem(w) in other else w
        for w in tokens(reply)
    )


def _cross_tokens(prompt: str, reply: str) -> list[str]:
    words = content_words(reply)
    return [f"{head}*{word}" for head in sorted(topic_words(prompt)) for word in sorted(words)]


def feature_rows(
    prompts: Sequence[str], replies: Sequence[str], sarcasm: Sequence[float]
) -> sp.csr_matrix:
    """Return one sparse feature row per (prompt, reply, sarcasm probability)."""
    named = np.array(
        [
            named_features(prompt, reply, sarcasm=p)
            for prompt, reply, p in zip(prompts, replies, sarcasm, strict=True)
        ],
        dtype=float,
    ).reshape(len(replies), len(NAMED))
    texts = list(replies)
    abstracted = [abstract_topic(p, r) for p, r in zip(prompts, replies, strict=True)]
    cross = l2_rows(
        _CROSS.transform(_cross_tokens(p, r) for p, r in zip(prompts, texts, strict=True))
    )
    blocks = [
        sp.csr_matrix(named),
        _WORDS.transform(texts),
        _CHARS.transform(texts),
        _TOPIC.transform(abstracted),
        cross,
    ]
    return sp.hstack(blocks, format="csr")
