"""The model interfaces every backend implements: a classifier and a generator.

Both are async; local implementations run their CPU-bound work off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Sequence
from typing import Protocol, runtime_checkable

from tuning.records import Candidate, Prediction


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

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Return ``n`` candidate replies, best first, each with its score.

        ``exclude`` holds replies already shown for this prompt (*Try again*): an implementation
        should offer others, and may return fewer than ``n`` when it has nothing new.
        """
        ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator that can also write one reply as it goes (the OpenAI-compatible one)."""

    def stream(self, prompt: str) -> AsyncGenerator[str, None]:
        """Yield one reply piece by piece; raise ModelError if it breaks off."""
        ...
