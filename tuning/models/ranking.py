"""Rank a generator's candidates the one way serving and evaluation share.

A local generator offers its whole pool and is reranked by the reward model saved with it; any
other generator offers ``n`` replies, reranked by the reward model its version carries (an
OpenAI-compatible one: best-of-n) or else by the prior reward model (Vertex). Both are fed
the classifier's sarcasm probability for each candidate, so the reply a user sees and the reply
an evaluation scores are chosen by the same :meth:`RewardModel.score`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Protocol, runtime_checkable

from tuning.errors import SarcasmError
from tuning.models.base import Classifier, Generator
from tuning.models.local_generator import LocalGenerator
from tuning.models.processes import PooledGenerator
from tuning.models.reward import RewardModel, rank
from tuning.records import Candidate
from tuning.text import normalize

log = logging.getLogger(__name__)


@runtime_checkable
class Reranked(Protocol):
    """A generator that carries the reward model learnt for it (local, OpenAI-compatible)."""

    reward: RewardModel


def reward_of(generator: Generator) -> RewardModel:
    """Return the reward model that ranks ``generator``'s candidates (the prior without one)."""
    return generator.reward if isinstance(generator, Reranked) else RewardModel()


async def best_replies(
    generator: Generator,
    classifier: Classifier | None,
    prompt: str,
    *,
    n: int,
    exclude: Collection[str] = (),
) -> list[Candidate]:
    """Return ``generator``'s ``n`` best replies to ``prompt`` not in ``exclude``, best first.

    Without a classifier, or if it fails, every candidate gets sarcasm 0.5. Fewer than ``n``
    only when the generator has nothing new to say.
    """
    size = max(3 * n, 12)
    if isinstance(generator, PooledGenerator):
        texts = await generator.pool(prompt, size=size, exclude=exclude)
    elif isinstance(generator, LocalGenerator):
        texts = await asyncio.to_thread(generator.pool, prompt, size=size, exclude=exclude)
    else:
        shown = {normalize(text) for text in exclude}
        # Ask for more and filter here: a generator written before ``exclude`` ignores it.
        offered = await generator.generate(prompt, n=n + len(shown))
        texts = [c.text for c in offered if normalize(c.text) not in shown]
    sarcasm: list[float] | None = None
    if classifier is not None and texts:
        try:
            sarcasm = [p.probability for p in await classifier.classify(texts)]
        except SarcasmError:
            log.warning("classifier failed while ranking replies; ignoring it", exc_info=True)
    if isinstance(generator, PooledGenerator):
        return await generator.rank(prompt, texts, sarcasm, n=n)
    return await asyncio.to_thread(rank, reward_of(generator), prompt, texts, sarcasm, n=n)
