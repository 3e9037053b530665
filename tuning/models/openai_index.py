"""What an ``openai`` model version holds: the server's model name, the reward model, the index.

The server's weights never change, so a version of this backend is what learning changes
instead: the reward model that reranks the generator's candidates (best-of-n), and the few-shot
index of approved replies, corrections and labelled messages (:mod:`tuning.models.few_shot`).
Each version is one JSON file, ``DATA_DIR/models/<task>/<version>/openai.json``, registered with
``backend="openai"`` like any other version; promotion and rollback switch between them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning.datasets.basedata import fingerprint
from tuning.errors import ModelError
from tuning.models.artifacts import read_json, write_json
from tuning.models.builders import model_dir, new_version
from tuning.models.few_shot import Exemplar, LabelledExample
from tuning.models.reward import RewardModel
from tuning.records import ModelVersion, Task

ARTIFACT_FILE = "openai.json"
FORMAT = 1


@dataclass(frozen=True)
class OpenAIIndex:
    """One ``openai`` version's contents (a generator's reward and exemplars, or labelled texts)."""

    task: Task
    version: str
    model: str
    reward: RewardModel | None = None
    exemplars: tuple[Exemplar, ...] = ()
    examples: tuple[LabelledExample, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the index as plain JSON data."""
        return {
            "format": FORMAT,
            "task": self.task,
            "version": self.version,
            "model": self.model,
            "reward": self.reward.to_dict() if self.reward is not None else None,
            "exemplars": [[e.prompt, e.reply, e.source] for e in self.exemplars],
            "examples": [[e.text, e.label, e.source] for e in self.examples],
        }


def load_index(directory: Path) -> OpenAIIndex:
    """Read a version's index; raise ModelError if it is missing or unreadable."""
    data = read_json(directory / ARTIFACT_FILE)
    if data.get("format") != FORMAT or data.get("task") not in ("classifier", "generator"):
        raise ModelError(
            f"{directory}: not a readable openai model version "
            f"(format {data.get('format')!r}, task {data.get('task')!r})"
        )
    try:
        reward = data.get("reward")
        return OpenAIIndex(
            task=data["task"],
            version=str(data["version"]),
            model=str(data["model"]),
            reward=RewardModel.from_dict(reward) if isinstance(reward, dict) else None,
            exemplars=tuple(Exemplar(str(p), str(r), s) for p, r, s in data["exemplars"]),
            examples=tuple(LabelledExample(str(t), label, s) for t, label, s in data["examples"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{directory}: not a readable openai model version ({exc})") from exc


def build_index_version(
    data_dir: Path,
    *,
    task: Task,
    model: str,
    reward: RewardModel | None = None,
    exemplars: Sequence[Exemplar] = (),
    examples: Sequence[LabelledExample] = (),
) -> ModelVersion:
    """Save a new ``openai`` version of ``task`` and return it (unregistered)."""
    content = {
        "model": model,
        "reward": reward.to_dict() if reward is not None else None,
        "exemplars": [[e.prompt, e.reply, e.source] for e in exemplars],
        "examples": [[e.text, e.label, e.source] for e in examples],
    }
    version = new_version(task, fingerprint([json.dumps(content, sort_keys=True)]))
    index = OpenAIIndex(
        task=task,
        version=version,
        model=model,
        reward=reward if task == "generator" else None,
        exemplars=tuple(exemplars),
        examples=tuple(examples),
    )
    directory = model_dir(data_dir, task, version)
    write_json(directory / ARTIFACT_FILE, index.to_dict())
    metrics = {
        "n_exemplars": float(len(exemplars)),
        "n_corrections": float(sum(e.source == "correction" for e in exemplars)),
        "n_examples": float(len(examples)),
    }
    if reward is not None:
        metrics |= {"n_preferences": float(reward.n_pairs), "n_ratings": float(reward.n_ratings)}
    return ModelVersion(
        task=task, version=version, backend="openai", artifact=str(directory), metrics=metrics
    )
