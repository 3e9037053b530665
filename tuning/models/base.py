"""The model interfaces every backend implements: a classifier and a generator.

Both are async; local implementations run their CPU-bound work off the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tuning.records import Candidate, Prediction

# One system prompt for training and inference, so a tuned model sees at serving time exactly
# what it was trained with.
CLASSIFIER_SYSTEM_PROMPT = (
    "You label Slack messages. Answer with exactly one word: SARCASTIC if the message is "
    "sarcastic, NOT_SARCASTIC otherwise."
)
GENERATOR_SYSTEM_PROMPT = (
    "You are sarcasm-bot, a Slack bot with a dry, good-natured sarcastic wit. Reply to the "
    "message in one or two short sentences. Never be cruel, never target a person's identity."
)
LABEL_WORDS = {"sarcastic": "SARCASTIC", "not_sarcastic": "NOT_SARCASTIC"}


@runtime_checkable
class Classifier(Protocol):
    """Label texts as sarcastic or not, with the probability that each is sarcastic."""

    @property
    def version(self) -> str:
        """The registry version this classifier serves."""
        ...

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Write candidate sarcastic replies to a prompt."""

    @property
    def version(self) -> str:
        """The registry version this generator serves."""
        ...

    async def generate(self, prompt: str, *, n: int) -> list[Candidate]:
        """Return ``n`` candidate replies, best first, each with its score."""
        ...
