"""What a local tuning job does, given the JSONL files a Vertex job would get (blocking code).

- classifier SFT: retrain the scikit-learn classifier on ``train.jsonl`` (base data + feedback),
  calibrated on the rows that are channel feedback (``feedback.jsonl`` names them);
- generator SFT: add the approved prompt/reply pairs (👍 replies and corrections) to the base
  generator's pair pool, and fit its reward model to the train split's human pairs and every
  rated reply in it (as a preference job does);
- preference: fit the reward model to the pairs (Bradley–Terry) and to every rated reply
  (unpaired 👍/👎), starting from the base generator's weights, and save it with the generator
  it reranks for.

The reward model scores replies with the active classifier's sarcasm probabilities
(``sarcasm``), as serving does. What each signal becomes, locally and on Vertex:

==================  ==========================  =============================================
signal              local backend               Vertex AI
==================  ==========================  =============================================
👍 replies          SFT pairs pool              SFT (``supervisedTuningSpec``)
pairs               reward model, pairwise      ``PREFERENCE_TUNING``
unpaired ratings    reward model, pointwise     (the local reward model only)
corrections         SFT pool and pairs          SFT and ``PREFERENCE_TUNING``
channel labels      classifier SFT, calibrated  classifier SFT
==================  ==========================  =============================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.datasets.basedata import LabelledMessage, ReplyPair, load_base_pairs
from tuning.datasets.feedback import HumanFeedback, read_feedback
from tuning.datasets.files import DatasetFiles
from tuning.datasets.formats import preference_triple, read_jsonl, sft_pair
from tuning.errors import DatasetError
from tuning.models.builders import build_classifier, build_generator
from tuning.models.local_generator import LocalGenerator
from tuning.prompts import LABEL_WORDS
from tuning.records import Method, ModelVersion, Task
from tuning.text import normalize

SarcasmFn = Callable[[Sequence[str]], Sequence[float]]


class Cancelled(Exception):
    """The job was cancelled while it ran; its result is thrown away."""


def train_local(
    *,
    task: Task,
    method: Method,
    dataset: DatasetFiles,
    base: ModelVersion | None,
    data_dir: Path,
    sarcasm: SarcasmFn | None = None,
    cancelled: threading.Event | None = None,
) -> ModelVersion:
    """Train the candidate for one job and save it; return its (unregistered) version."""
    stop = cancelled or threading.Event()
    lines = read_jsonl(dataset.train, method=method)
    if not lines:
        raise DatasetError(f"{dataset.train}: no training examples")
    _check(stop)
    learnt = read_feedback(dataset.feedback, split="train") if dataset.feedback else HumanFeedback()
    if task == "classifier":
        sarcastic = LABEL_WORDS["sarcastic"]
        messages = [
            LabelledMessage(text, int(target == sarcastic)) for text, target in map(sft_pair, lines)
        ]
        labelled = {normalize(label.text) for label in learnt.labels}
        channel = [normalize(m.text) in labelled for m in messages]
        return build_classifier(data_dir, messages, cv_folds=0, channel=channel)
    generator = _base_generator(base, data_dir)
    _check(stop)
    ratings = [(r.prompt, r.reply, r.liked) for r in learnt.ratings]
    if method == "sft":
        pairs = [ReplyPair(prompt, reply) for prompt, reply in map(sft_pair, lines)]
        # The same human signal as a preference job, so the reward never forgets the pairs.
        triples = [(p.prompt, p.chosen, p.rejected) for p in learnt.pairs]
        reward = generator.reward.fit(triples, ratings=ratings, sarcasm=sarcasm)
        _check(stop)
        return build_generator(data_dir, [*generator.pairs, *pairs], reward=reward)
    triples = [preference_triple(line) for line in lines]
    reward = generator.reward.fit(triples, ratings=ratings, sarcasm=sarcasm)
    _check(stop)
    return build_generator(data_dir, generator.pairs, reward=reward)


def _base_generator(base: ModelVersion | None, data_dir: Path) -> LocalGenerator:
    """Return the generator a job builds on: the active local one, else the base data's."""
    if base is not None and base.backend == "local":
        return LocalGenerator.load(Path(base.artifact))
    return LocalGenerator(load_base_pairs(data_dir), version="base")


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise Cancelled
