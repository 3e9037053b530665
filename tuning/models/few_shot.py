"""Few-shot exemplars for a model that cannot be tuned: the nearest ones, within a budget (pure).

For an LLM behind an OpenAI-compatible server, generator SFT means this: the replies people
approved (👍) and the corrections they wrote become an index, and each prompt carries the
exemplars most similar to the message, as earlier user/assistant turns. The classifier gets
labelled messages from channel feedback the same way. Similarity is the overlap of content words
(Jaccard); ties go to corrections, then to the newest. Tokens are estimated at four characters
each, the usual rule of thumb for English with BPE tokenizers, since a server's tokenizer is not
at hand.

>>> pool = [Exemplar("the build is red", "Shocking.", "approved"),
...         Exemplar("lunch at noon?", "Can't wait.", "approved")]
>>> [e.reply for e in select(pool, "is the build red again", budget_tokens=100)]
['Shocking.']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from tuning.records import Label
from tuning.text import content_words

Source = Literal["approved", "correction"]
CHARS_PER_TOKEN = 4
PER_EXAMPLE_TOKENS = 8  # role markers and separators of two chat turns
MAX_EXAMPLES = 8


@dataclass(frozen=True)
class Exemplar:
    """A prompt and a reply people liked: approved with 👍, or a human correction."""

    prompt: str
    reply: str
    source: Source = "approved"

    @property
    def query(self) -> str:
        """The text compared with a new message."""
        return self.prompt

    @property
    def size(self) -> int:
        """Its estimated size in tokens."""
        return estimate_tokens(self.prompt) + estimate_tokens(self.reply) + PER_EXAMPLE_TOKENS


@dataclass(frozen=True)
class LabelledExample:
    """A message and its label, from channel feedback, for the classifier's prompt."""

    text: str
    label: Label
    source: Source = "approved"

    @property
    def query(self) -> str:
        """The text compared with a new message."""
        return self.text

    @property
    def size(self) -> int:
        """Its estimated size in tokens."""
        return estimate_tokens(self.text) + PER_EXAMPLE_TOKENS


E = TypeVar("E", Exemplar, LabelledExample)


def estimate_tokens(text: str) -> int:
    """Return a rough token count for ``text`` (four characters a token, at least one)."""
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def similarity(a: str, b: str) -> float:
    """Return the Jaccard overlap of two texts' content words (0 to 1)."""
    left, right = content_words(a), content_words(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def select(
    pool: Sequence[E], message: str, *, budget_tokens: int, limit: int = MAX_EXAMPLES
) -> list[E]:
    """Return the examples most similar to ``message`` that fit the budget, least similar first.

    Least similar first, so the nearest exemplar sits right before the message. Examples with
    nothing in common with the message are left out; so is one that would overflow the budget.
    """
    scored = []
    for position, example in enumerate(pool):
        score = similarity(example.query, message)
        if score > 0:
            scored.append((score, example.source == "correction", position, example))
    scored.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    chosen: list[E] = []
    used = 0
    for *_, example in scored:
        if len(chosen) >= limit:
            break
        if used + example.size > budget_tokens:
            continue
        chosen.append(example)
        used += example.size
    return chosen[::-1]
