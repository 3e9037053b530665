"""What a local tuning job does, given the JSONL files a Vertex job would get (blocking code).

- classifier SFT: retrain the scikit-learn classifier on ``train.jsonl`` (base data + feedback);
- generator SFT: add the approved prompt/reply pairs to the base generator's pair pool;
- preference: fit the Bradley–Terry reward model, starting from the base generator's weights,
  and save it with the generator it reranks for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.datasets.basedata import LabelledMessage, ReplyPair, load_base_pairs
from tuning.datasets.files import DatasetFiles
from tuning.datasets.formats import preference_triple, read_jsonl, sft_pair
from tuning.errors import DatasetError
from tuning.models.builders import build_classifier, build_generator
from tuning.models.local_generator import LocalGenerator
from tuning.prompts import LABEL_WORDS
from tuning.records import Method, ModelVersion, Task

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
    if task == "classifier":
        sarcastic = LABEL_WORDS["sarcastic"]
        messages = [
            LabelledMessage(text, int(target == sarcastic)) for text, target in map(sft_pair, lines)
        ]
        return build_classifier(data_dir, messages, cv_folds=0)
    generator = _base_generator(base, data_dir)
    _check(stop)
    if method == "sft":
        pairs = [ReplyPair(prompt, reply) for prompt, reply in map(sft_pair, lines)]
        return build_generator(data_dir, [*generator.pairs, *pairs], reward=generator.reward)
    triples = [preference_triple(line) for line in lines]
    reward = generator.reward.fit(triples, sarcasm=sarcasm)
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
