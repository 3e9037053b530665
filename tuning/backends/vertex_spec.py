"""What a Vertex AI tuning job is made of: its typed config, labels, states and limits (pure).

>>> label_value("job-20261125-ABC.1")
'job-20261125-abc-1'
>>> STATES["JOB_STATE_CANCELLING"]
'RUNNING'
>>> label_filter({"app": "sarcasm-bot", "job": "job-1"})
'labels.app="sarcasm-bot" AND labels.job="job-1"'
"""

from __future__ import annotations

import re
from pathlib import Path

from google.genai import types

from tuning.config import VertexSettings
from tuning.errors import BackendError
from tuning.records import JobRecord, JobState

APP = "sarcasm-bot"
REWARD_NAME = "reactions"  # the one reward of a reinforcement job: the scorer's
METHODS = {
    "sft": types.TuningMethod.SUPERVISED_FINE_TUNING,
    "preference": types.TuningMethod.PREFERENCE_TUNING,
    "reinforcement": types.TuningMethod.REINFORCEMENT_TUNING,
}
CANCELLING = "JOB_STATE_CANCELLING"
LIST_PAGE_SIZE = 100
# Vertex AI accepts at most 5,000 validation examples.
MAX_VALIDATION_EXAMPLES = 5000
ADAPTER_SIZES = {1: "ONE", 2: "TWO", 4: "FOUR", 8: "EIGHT", 16: "SIXTEEN"}
# Vertex's JobState, folded into ours. CANCELLING and UPDATING are still in flight; a tuning job
# that only partly succeeded has no usable model, so it counts as failed.
STATES: dict[str, JobState] = {
    "JOB_STATE_UNSPECIFIED": "QUEUED",
    "JOB_STATE_QUEUED": "QUEUED",
    "JOB_STATE_PENDING": "PENDING",
    "JOB_STATE_PAUSED": "PENDING",
    "JOB_STATE_RUNNING": "RUNNING",
    "JOB_STATE_CANCELLING": "RUNNING",
    "JOB_STATE_UPDATING": "RUNNING",
    "JOB_STATE_SUCCEEDED": "SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "FAILED",
    "JOB_STATE_FAILED": "FAILED",
    "JOB_STATE_CANCELLED": "CANCELLED",
    "JOB_STATE_EXPIRED": "EXPIRED",
}


def count_examples(path: Path) -> int:
    """Return the number of non-blank lines in a JSONL file (0 if it does not exist)."""
    if not path.is_file():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def label_value(text: str) -> str:
    """Return ``text`` as a valid GCP label value: lowercase, ``[a-z0-9_-]``, at most 63 chars."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower())[:63]


def label_filter(labels: dict[str, str]) -> str:
    """Return a list filter matching jobs that carry every label in ``labels``.

    The standard list filter (https://google.aip.dev/160), as Vertex documents it for its job
    lists: ``labels.key="value"`` terms joined by AND. Values are label values already.
    """
    return " AND ".join(f'labels.{key}="{value}"' for key, value in labels.items())


def reward_config(vertex: VertexSettings) -> types.SingleReinforcementTuningRewardConfig:
    """Return the reward of a reinforcement job: our Cloud Run scorer; raise if none is set."""
    if not vertex.reward_url:
        raise BackendError(
            "reinforcement tuning needs the reward scorer's URL: deploy `python -m tuning "
            "serve-reward` to Cloud Run and set VERTEX_REWARD_URL"
        )
    return types.SingleReinforcementTuningRewardConfig(
        reward_name=REWARD_NAME,
        cloud_run_reward_scorer=types.ReinforcementTuningCloudRunRewardScorer(
            cloud_run_uri=vertex.reward_url
        ),
    )


def tuning_config(
    job: JobRecord, vertex: VertexSettings, *, validation_uri: str | None
) -> types.CreateTuningJobConfig:
    """Build the typed job config (a dict would silently drop pre_tuned_model_checkpoint_id).

    ``job.config`` may override ``epochs``, ``learning_rate_multiplier``, ``adapter_size`` and
    ``beta``; 0 leaves a hyperparameter to Vertex AI's default. A reinforcement job also gets
    the reward scorer (VERTEX_REWARD_URL), ``samples_per_prompt`` and ``max_output_tokens``.
    """
    preference = job.method == "preference"
    reinforcement = job.method == "reinforcement"
    epochs = int(job.config.get("epochs", vertex.epochs))
    multiplier = float(job.config.get("learning_rate_multiplier", vertex.learning_rate_multiplier))
    adapter = int(job.config.get("adapter_size", vertex.adapter_size))
    beta = float(job.config.get("beta", vertex.preference_beta))
    if adapter and adapter not in ADAPTER_SIZES:
        raise BackendError(f"adapter size {adapter} is not 1, 2, 4, 8 or 16")
    samples = int(job.config.get("samples_per_prompt", vertex.samples_per_prompt))
    max_tokens = int(job.config.get("max_output_tokens", vertex.max_output_tokens))
    return types.CreateTuningJobConfig(
        method=METHODS[job.method],
        epoch_count=epochs or None,
        learning_rate_multiplier=multiplier or None,
        adapter_size=types.AdapterSize(f"ADAPTER_SIZE_{ADAPTER_SIZES[adapter]}")
        if adapter
        else None,
        beta=(beta or None) if preference else None,
        tuned_model_display_name=f"sarcasm-bot {job.task} {job.method} {job.id}"[:128],
        labels={
            "app": APP,
            "task": job.task,
            "method": job.method,
            "job": label_value(job.id),
        },
        validation_dataset=(
            types.TuningValidationDataset(gcs_uri=validation_uri)
            if validation_uri and not reinforcement
            else None
        ),
        # Reinforcement tuning's own field for it (the SDK maps both to the same wire key).
        validation_dataset_uri=validation_uri if reinforcement else None,
        reward_config=reward_config(vertex) if reinforcement else None,
        samples_per_prompt=(samples or None) if reinforcement else None,
        max_output_tokens=(max_tokens or None) if reinforcement else None,
        # Creating a job is not idempotent: one attempt, no SDK retry of any kind. The backend
        # retries, after looking the job up (see tuning.backends.vertex).
        http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1)),
    )
