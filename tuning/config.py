"""Typed settings, read once from the environment (and ``.env``) at the edge of the program.

Nothing below ``main()`` reads ``os.environ``: entry points call :func:`load_settings` and pass
the frozen :class:`Settings` down. Each bad value raises :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tuning.errors import ConfigError

DEFAULT_STORE_URL = "sqlite:///.sarcasm/store.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# One child process for the local classifier: on 2 cores, bench/bench_events.py's burst had a
# median ack p99 of 30 ms with it against 40 ms with threads (10 and 14 runs), and a median
# throughput no lower (1,480 against 1,220 events/s, within the shared machine's noise).
DEFAULT_MODEL_PROCESSES = 1
MODEL_BACKENDS = ("local", "vertex", "openai")
# Gemini 2.5 was retired on Vertex AI in October 2026; these must name models that can be tuned now.
# Both are stable, listed for supervised tuning, and kept until at least mid-2027. Flash-Lite is the
# cheap one for a one-word label (it ignores custom temperatures, which a classifier does not need);
# the generator needs Flash, which honours the configured temperature.
DEFAULT_VERTEX_BASE_MODEL = "gemini-3.5-flash"
DEFAULT_VERTEX_CLASSIFIER_MODEL = "gemini-3.5-flash-lite"
ADAPTER_SIZES = (0, 1, 2, 4, 8, 16)
CONTINUE_FROM_ACTIVE = ("never", "preference", "always")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
QUEUE_DELIVERIES = ("push", "pull")
# Pub/Sub topic ids: https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names
# An emoji name as Slack sends it in reaction events: lower case, no colons, no skin tone.
EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")
DEFAULT_SARCASTIC_REACTION = "upside_down_face"
TOPIC_ID = re.compile(r"[A-Za-z][-A-Za-z0-9_.~+%]{2,200}")


@dataclass(frozen=True)
class QueueTarget:
    """Where the work queue lives: a SQLite file, or a Pub/Sub project and topic."""

    scheme: str
    path: str = ""
    project: str = ""
    topic: str = ""
    push: bool = False


def parse_queue_url(url: str) -> QueueTarget:
    """Parse a concrete QUEUE_URL; raise ConfigError naming QUEUE_URL if it is not one.

    >>> parse_queue_url("pubsub://my-project/sarcasm-work?delivery=pull")
    QueueTarget(scheme='pubsub', path='', project='my-project', topic='sarcasm-work', push=False)
    """
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return QueueTarget("sqlite", path=rest[1:])
    if scheme == "pubsub":
        parsed = urlparse(url)
        topic = parsed.path.strip("/")
        query = parse_qs(parsed.query)
        delivery = query.pop("delivery", ["push"])[-1]
        if not parsed.netloc or not TOPIC_ID.fullmatch(topic):
            raise ConfigError("QUEUE_URL", f"{url!r} is not pubsub://PROJECT/TOPIC")
        if query or delivery not in QUEUE_DELIVERIES:
            raise ConfigError("QUEUE_URL", f"{url!r}: the only option is ?delivery=push or pull")
        return QueueTarget("pubsub", project=parsed.netloc, topic=topic, push=delivery == "push")
    raise ConfigError(
        "QUEUE_URL",
        f"{url!r} is not sqlite: (the store's file), sqlite:///PATH or pubsub://PROJECT/TOPIC",
    )


@dataclass(frozen=True)
class PushSettings:
    """Who may deliver Pub/Sub push requests to the bot (QUEUE_URL=pubsub://... by push).

    Pub/Sub signs each push with a Google OIDC token for ``service_account`` whose audience is
    ``audience`` (the push endpoint's URL). ``emulator`` is set when PUBSUB_EMULATOR_HOST is:
    the emulator pushes without a token, so only then may both be empty.
    """

    audience: str = ""
    service_account: str = ""
    emulator: bool = False

    @property
    def unauthenticated(self) -> bool:
        """Return whether push requests are taken without a token (the emulator only)."""
        return self.emulator and not self.audience


@dataclass(frozen=True)
class SlackSettings:
    """How to reach Slack; all empty means the local emulated workspace."""

    bot_token: str = ""
    app_token: str = ""
    signing_secret: str = ""
    api_url: str = DEFAULT_SLACK_API_URL

    @property
    def socket_mode(self) -> bool:
        """Return whether an app-level token asks for Socket Mode."""
        return bool(self.app_token)


@dataclass(frozen=True)
class VertexSettings:
    """Vertex AI and GCS settings, used only when a Vertex backend is chosen."""

    project: str = ""
    location: str = "us-central1"
    bucket: str = ""
    classifier_base_model: str = DEFAULT_VERTEX_CLASSIFIER_MODEL
    generator_base_model: str = DEFAULT_VERTEX_BASE_MODEL
    temperature: float = 1.0
    # Tuning jobs run, and tuned endpoints live, in one region; empty means ``location``.
    tuning_location: str = ""
    # 0 leaves a hyperparameter to Vertex AI's per-model default.
    epochs: int = 0
    learning_rate_multiplier: float = 0.0
    adapter_size: int = 0
    preference_beta: float = 0.0
    # Which jobs continue from the active tuned model (preTunedModel) instead of the base model:
    # "preference" follows Vertex's advice, SFT on preferred replies then preference on top.
    continue_from_active: str = "preference"
    min_train_examples: int = 100
    # Probability reported for a parsed label when the endpoint returns no logprobs and the
    # version was never calibrated (evaluation calibrates each label on the validation split).
    label_confidence: float = 0.9
    # None decides by the base model: Vertex refuses logprobs, and Gemini 3.x refuses several
    # candidates per call, on Gemini 3 and later (see tests/fakes/SOURCES.md).
    logprobs: bool | None = None
    multiple_candidates: bool | None = None
    retry_attempts: int = 5
    timeout_seconds: float = 60.0
    # Reinforcement tuning: the reward scorer's Cloud Run URL (``python -m tuning serve-reward``),
    # responses sampled per prompt and their token cap (0: Vertex AI's default), and how many
    # training examples the reward is dry-run on (tunings.validate_reward) before a job is made.
    reward_url: str = ""
    samples_per_prompt: int = 0
    max_output_tokens: int = 0
    reward_checks: int = 3

    @property
    def classifier_logprobs(self) -> bool:
        """Return whether to ask the tuned classifier for logprobs."""
        if self.logprobs is not None:
            return self.logprobs
        return gemini_generation(self.classifier_base_model) < 3

    @property
    def generator_multiple_candidates(self) -> bool:
        """Return whether to ask the tuned generator for several candidates in one call."""
        if self.multiple_candidates is not None:
            return self.multiple_candidates
        return gemini_generation(self.generator_base_model) < 3

    @property
    def region(self) -> str:
        """Return the region tuning jobs run in and tuned endpoints are called in."""
        return self.tuning_location or self.location


@dataclass(frozen=True)
class OpenAISettings:
    """Where MODEL_BACKEND=openai finds its models: Ollama, vLLM, llama.cpp, LM Studio, OpenAI.

    ``base_url`` and ``api_key`` are the variables the ``openai`` SDK itself honours; a local
    server needs no key. ``classifier_model`` empty keeps the local classifier.
    """

    base_url: str = ""
    api_key: str = ""
    model: str = ""
    classifier_model: str = ""
    temperature: float = 1.0
    # What the few-shot exemplars in one prompt may take, in estimated tokens (4 characters each).
    few_shot_tokens: int = 600
    timeout_seconds: float = 30.0
    retry_attempts: int = 3


@dataclass(frozen=True)
class Settings:
    """Everything the bot and the tuning loop are configured with."""

    slack: SlackSettings = field(default_factory=SlackSettings)
    port: int = 3000
    store_url: str = DEFAULT_STORE_URL
    # Always concrete: sqlite:///PATH or pubsub://PROJECT/TOPIC[?delivery=pull].
    queue_url: str = DEFAULT_STORE_URL
    push: PushSettings = field(default_factory=PushSettings)
    model_backend: str = "local"
    vertex: VertexSettings = field(default_factory=VertexSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    admin_user_ids: frozenset[str] = frozenset()
    data_dir: Path = Path(".sarcasm")
    log_level: str = "INFO"
    candidates: int = 4
    # Child processes that run the local classifier (0: threads of the bot process). Processes
    # leave the bot's GIL to the event loop (the acks); see tuning/models/processes.py. The
    # environment's default is DEFAULT_MODEL_PROCESSES; settings built in code keep threads.
    model_processes: int = 0
    # The promotion rule's tolerance: a candidate trained on more human feedback is promoted when
    # the lower bound of its paired 95% interval is above -promotion_margin (decision.Rule).
    promotion_margin: float = 0.05
    tick_minutes: int = 0
    registry_poll_seconds: float = 30.0
    # The scheduler's reinforcement policy: off unless asked for, and even then only while the
    # reward model's held-out AUC against human ratings reaches this floor.
    schedule_reinforcement: bool = False
    reinforcement_min_auc: float = 0.75
    # A person's reaction that labels any message sarcastic (the flag's emoji, by default).
    sarcastic_reaction: str = DEFAULT_SARCASTIC_REACTION
    # How long interactions, feedback and corrections (and the datasets and models built from
    # them) are kept: tick purges older ones, Firestore's TTL on ``expires_at`` backs it up.
    retention_days: int = 90

    @property
    def retention(self) -> timedelta:
        """Return how long records are kept (RETENTION_DAYS)."""
        return timedelta(days=self.retention_days)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a mapping of environment variables, validating every value."""
        reader = _Reader(env)
        store_url = reader.text("STORE_URL", DEFAULT_STORE_URL)
        _check_store_url(store_url)
        data_dir = Path(reader.text("DATA_DIR", ".sarcasm"))
        queue_url = _queue_url(reader.text("QUEUE_URL", "sqlite:"), store_url, data_dir)
        backend = reader.choice("MODEL_BACKEND", "local", MODEL_BACKENDS)
        vertex = VertexSettings(
            project=reader.text("GOOGLE_CLOUD_PROJECT", ""),
            location=reader.text("GOOGLE_CLOUD_LOCATION", "us-central1"),
            bucket=reader.text("TUNING_BUCKET", ""),
            classifier_base_model=reader.text(
                "VERTEX_CLASSIFIER_BASE_MODEL", DEFAULT_VERTEX_CLASSIFIER_MODEL
            ),
            generator_base_model=reader.text(
                "VERTEX_GENERATOR_BASE_MODEL", DEFAULT_VERTEX_BASE_MODEL
            ),
            temperature=reader.number("VERTEX_TEMPERATURE", 1.0, low=0.0, high=2.0),
            tuning_location=reader.text("VERTEX_TUNING_LOCATION", ""),
            epochs=int(reader.number("VERTEX_EPOCHS", 0, low=0, high=100, integer=True)),
            learning_rate_multiplier=reader.number(
                "VERTEX_LEARNING_RATE_MULTIPLIER", 0.0, low=0.0, high=100.0
            ),
            adapter_size=int(reader.number("VERTEX_ADAPTER_SIZE", 0, low=0, high=16, integer=True)),
            preference_beta=reader.number("VERTEX_PREFERENCE_BETA", 0.0, low=0.0, high=10.0),
            continue_from_active=reader.choice(
                "VERTEX_CONTINUE_FROM_ACTIVE", "preference", CONTINUE_FROM_ACTIVE
            ),
            min_train_examples=int(
                reader.number(
                    "VERTEX_MIN_TRAIN_EXAMPLES", 100, low=1, high=10_000_000, integer=True
                )
            ),
            label_confidence=reader.number("VERTEX_LABEL_CONFIDENCE", 0.9, low=0.5, high=1.0),
            logprobs=reader.flag("VERTEX_LOGPROBS"),
            multiple_candidates=reader.flag("VERTEX_MULTIPLE_CANDIDATES"),
            retry_attempts=int(
                reader.number("VERTEX_RETRY_ATTEMPTS", 5, low=1, high=10, integer=True)
            ),
            timeout_seconds=reader.number("VERTEX_TIMEOUT_SECONDS", 60.0, low=1.0, high=600.0),
            reward_url=(
                reader.url("VERTEX_REWARD_URL", "") if reader.text("VERTEX_REWARD_URL", "") else ""
            ),
            samples_per_prompt=int(
                reader.number("VERTEX_SAMPLES_PER_PROMPT", 0, low=0, high=64, integer=True)
            ),
            max_output_tokens=int(
                reader.number("VERTEX_MAX_OUTPUT_TOKENS", 0, low=0, high=32768, integer=True)
            ),
            reward_checks=int(
                reader.number("VERTEX_REWARD_CHECKS", 3, low=1, high=20, integer=True)
            ),
        )
        if vertex.adapter_size not in ADAPTER_SIZES:
            raise ConfigError(
                "VERTEX_ADAPTER_SIZE", f"{vertex.adapter_size} is not 0, 1, 2, 4, 8 or 16"
            )
        if vertex.bucket and not vertex.bucket.startswith("gs://"):
            raise ConfigError("TUNING_BUCKET", f"{vertex.bucket!r} is not gs://BUCKET[/PREFIX]")
        if backend == "vertex":
            if not vertex.project:
                raise ConfigError("GOOGLE_CLOUD_PROJECT", "required when MODEL_BACKEND=vertex")
            if not vertex.bucket:
                raise ConfigError("TUNING_BUCKET", "required when MODEL_BACKEND=vertex")
            if vertex.region == "global":
                raise ConfigError(
                    "VERTEX_TUNING_LOCATION",
                    "tuning needs a region such as us-central1, not global",
                )
        openai = _openai_settings(reader, backend)
        slack = SlackSettings(
            bot_token=reader.text("SLACK_BOT_TOKEN", ""),
            app_token=reader.text("SLACK_APP_TOKEN", ""),
            signing_secret=reader.text("SLACK_SIGNING_SECRET", ""),
            api_url=reader.url("SLACK_API_URL", DEFAULT_SLACK_API_URL),
        )
        _check_slack(slack)
        return cls(
            slack=slack,
            port=int(reader.number("PORT", 3000, low=1, high=65535, integer=True)),
            store_url=store_url,
            queue_url=queue_url,
            push=_push_settings(reader, queue_url),
            model_backend=backend,
            vertex=vertex,
            openai=openai,
            admin_user_ids=frozenset(reader.words("ADMIN_USER_IDS")),
            data_dir=data_dir,
            log_level=reader.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            candidates=int(reader.number("GENERATOR_CANDIDATES", 4, low=1, high=16, integer=True)),
            model_processes=int(
                reader.number(
                    "MODEL_PROCESSES", DEFAULT_MODEL_PROCESSES, low=0, high=16, integer=True
                )
            ),
            promotion_margin=reader.number("PROMOTION_MARGIN", 0.05, low=0.0, high=1.0),
            tick_minutes=int(reader.number("TICK_MINUTES", 0, low=0, high=10080, integer=True)),
            registry_poll_seconds=reader.number("REGISTRY_POLL_SECONDS", 30.0, low=0.1, high=60.0),
            schedule_reinforcement=bool(reader.flag("SCHEDULE_REINFORCEMENT")),
            reinforcement_min_auc=reader.number("REINFORCEMENT_MIN_AUC", 0.75, low=0.5, high=1.0),
            sarcastic_reaction=_emoji(
                reader.text("SARCASTIC_REACTION", DEFAULT_SARCASTIC_REACTION)
            ),
            retention_days=int(
                reader.number("RETENTION_DAYS", 90, low=1, high=36_500, integer=True)
            ),
        )


def load_settings(env_file: str | os.PathLike[str] | None = ".env") -> Settings:
    """Load ``.env`` (without overriding the real environment), then validate the environment."""
    if env_file is not None and Path(env_file).is_file():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)
    return Settings.from_env(os.environ)


def gemini_generation(model: str) -> int:
    """Return the major Gemini version a model id names, or 0 when it names none.

    >>> gemini_generation("gemini-3.5-flash-lite"), gemini_generation("publishers/google/x")
    (3, 0)
    """
    found = re.match(r"(?:.*/)?gemini-(\d+)", model)
    return int(found.group(1)) if found else 0


def _openai_settings(reader: _Reader, backend: str) -> OpenAISettings:
    base_url = reader.text("OPENAI_BASE_URL", "")
    if base_url:
        base_url = reader.url("OPENAI_BASE_URL", base_url).rstrip("/")
    settings = OpenAISettings(
        base_url=base_url,
        api_key=reader.text("OPENAI_API_KEY", ""),
        model=reader.text("OPENAI_MODEL", ""),
        classifier_model=reader.text("OPENAI_CLASSIFIER_MODEL", ""),
        temperature=reader.number("OPENAI_TEMPERATURE", 1.0, low=0.0, high=2.0),
        few_shot_tokens=int(
            reader.number("OPENAI_FEW_SHOT_TOKENS", 600, low=0, high=100_000, integer=True)
        ),
        timeout_seconds=reader.number("OPENAI_TIMEOUT_SECONDS", 30.0, low=1.0, high=600.0),
        retry_attempts=int(reader.number("OPENAI_RETRY_ATTEMPTS", 3, low=1, high=10, integer=True)),
    )
    if backend == "openai":
        if not settings.base_url:
            raise ConfigError(
                "OPENAI_BASE_URL",
                "required when MODEL_BACKEND=openai (Ollama: http://localhost:11434/v1, "
                "OpenAI: https://api.openai.com/v1)",
            )
        if not settings.model:
            raise ConfigError("OPENAI_MODEL", "required when MODEL_BACKEND=openai")
    return settings


def _emoji(raw: str) -> str:
    name = raw.strip().strip(":").lower()
    if not EMOJI_NAME.fullmatch(name):
        raise ConfigError(
            "SARCASTIC_REACTION", f"{raw!r} is not an emoji name such as thinking_face"
        )
    return name


def _check_store_url(url: str) -> None:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError("STORE_URL", f"{url!r} has no path (use sqlite:///PATH)")
        return
    if scheme == "firestore":
        project = urlparse(url).netloc
        if not project:
            raise ConfigError("STORE_URL", f"{url!r} has no project (use firestore://PROJECT)")
        return
    raise ConfigError(
        "STORE_URL",
        f"unsupported scheme {scheme or url!r} (use sqlite:///PATH or firestore://PROJECT)",
    )


def _queue_url(url: str, store_url: str, data_dir: Path) -> str:
    """Resolve ``sqlite:`` to the store's file (or, beside a Firestore store, DATA_DIR's)."""
    if url == "sqlite:":
        if store_url.startswith("sqlite:"):
            return store_url
        # A Firestore store has no file to share; on Cloud Run use pubsub:// instead, since
        # an instance's disk goes with the instance.
        return f"sqlite:///{data_dir / 'queue.db'}"
    parse_queue_url(url)
    return url


def _push_settings(reader: _Reader, queue_url: str) -> PushSettings:
    push = PushSettings(
        audience=reader.text("PUBSUB_PUSH_AUDIENCE", ""),
        service_account=reader.text("PUBSUB_PUSH_SERVICE_ACCOUNT", ""),
        emulator=bool(reader.text("PUBSUB_EMULATOR_HOST", "")),
    )
    parsed = urlparse(push.audience)
    if push.audience and (parsed.scheme not in ("http", "https") or not parsed.netloc):
        # Pub/Sub signs the URL as given (--push-auth-token-audience or the endpoint itself).
        raise ConfigError("PUBSUB_PUSH_AUDIENCE", f"{push.audience!r} is not an http(s) URL")
    if not parse_queue_url(queue_url).push or push.unauthenticated:
        return push
    # Without both, nobody could be told from an attacker: the route runs work for its caller.
    for name, value in (
        ("PUBSUB_PUSH_AUDIENCE", push.audience),
        ("PUBSUB_PUSH_SERVICE_ACCOUNT", push.service_account),
    ):
        if not value:
            raise ConfigError(name, "required when QUEUE_URL delivers by Pub/Sub push")
    return push


def _check_slack(slack: SlackSettings) -> None:
    if slack.bot_token and not slack.bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb-")
    if slack.app_token and not slack.app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
    if slack.app_token and not slack.bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "required when SLACK_APP_TOKEN is set")
    if slack.bot_token and not slack.app_token and not slack.signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET",
            "required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)",
        )


class _Reader:
    """Read typed values from an environment mapping, raising ConfigError on bad ones."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str) -> str:
        value = self._env.get(name, "").strip()
        return value or default

    def words(self, name: str) -> list[str]:
        raw = self._env.get(name, "")
        return [word for word in raw.replace(",", " ").split() if word]

    def choice(
        self, name: str, default: str, allowed: tuple[str, ...], *, upper: bool = False
    ) -> str:
        value = self.text(name, default)
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(name, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def flag(self, name: str) -> bool | None:
        """Read true or false; empty (or unset) is None, "decide by default"."""
        value = self._env.get(name, "").strip().lower()
        if not value:
            return None
        if value not in ("true", "false"):
            raise ConfigError(name, f"{value!r} is not true, false or empty")
        return value == "true"

    def number(
        self, name: str, default: float, *, low: float, high: float, integer: bool = False
    ) -> float:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(name, f"{raw!r} is not {kind} from {low:g} to {high:g}") from None
        if not low <= value <= high:
            raise ConfigError(name, f"{raw} is out of range ({low:g} to {high:g})")
        return value

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(name, f"{value!r} is not an http(s) URL")
        return value if value.endswith("/") else value + "/"
