"""Build the scorer from the store: the active classifier and a reward model learnt from it.

The reward model starts from the one that travels with the active generator when it is local
(the prior otherwise) and is fitted to every rating and pair in the store
(:func:`tuning.scoring.fit.learn`), so it learns from reactions whichever backend serves the
generator. A local classifier scores sarcasm for the fit too; a remote one only at serving time,
one response per request, as fitting would call it for every stored reply.
"""

from __future__ import annotations

import asyncio
import logging

from tuning.config import Settings
from tuning.datasets.export import read_snapshot
from tuning.models.base import Classifier
from tuning.models.loader import load_classifier, load_generator
from tuning.models.local_classifier import LocalClassifier
from tuning.models.ranking import reward_of
from tuning.models.reward import RewardModel
from tuning.scoring.fit import learn
from tuning.scoring.scorer import Scorer
from tuning.store.base import Store

log = logging.getLogger(__name__)


async def load_scorer(store: Store, settings: Settings) -> Scorer:
    """Return the scorer for the store's feedback and active models; raise SarcasmError."""
    classifier = await active_classifier(store, settings)
    generator = await store.active_model(task="generator")
    base = RewardModel()
    if generator is not None and generator.backend == "local":
        base = reward_of(await asyncio.to_thread(load_generator, generator, settings))
    snapshot = await read_snapshot(store, task="generator")
    sarcasm = classifier.probabilities if isinstance(classifier, LocalClassifier) else None
    reward, auc = await asyncio.to_thread(
        learn, base, snapshot.interactions, snapshot.ratings, sarcasm=sarcasm
    )
    log.info(
        "reward model: %d pairs, %d ratings, held-out AUC %.3f",
        reward.n_pairs,
        reward.n_ratings,
        auc,
    )
    return Scorer(reward=reward, classifier=classifier, auc=auc)


async def reward_auc(store: Store, settings: Settings) -> float:
    """Return the held-out AUC of the reward model the scorer would serve now (NaN if unknown)."""
    return (await load_scorer(store, settings)).auc


async def active_classifier(store: Store, settings: Settings) -> Classifier | None:
    """Return the active classifier, loaded as serving loads it, or None without one."""
    model = await store.active_model(task="classifier")
    if model is None:
        return None
    return await asyncio.to_thread(load_classifier, model, settings)
