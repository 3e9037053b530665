"""Settings: every variable documented, every bad value named in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tuning.config import DEFAULT_STORE_URL, QueueTarget, Settings, parse_queue_url
from tuning.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PUSH_AUTH = {
    "PUBSUB_PUSH_AUDIENCE": "https://bot.example.run.app/pubsub/push",
    "PUBSUB_PUSH_SERVICE_ACCOUNT": "pubsub-push@proj.iam.gserviceaccount.com",
}


class RecordingEnv(Mapping[str, str]):
    """An environment mapping that remembers which variables were asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self._values[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def documented_variables() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))


def test_every_variable_read_is_documented_in_env_example() -> None:
    env = RecordingEnv({})
    Settings.from_env(env)
    missing = env.asked - set(documented_variables())
    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_env_example_values_are_valid_and_match_defaults() -> None:
    documented = documented_variables()
    assert Settings.from_env(documented) == Settings.from_env({})


def test_defaults_run_locally_with_no_cloud_and_no_slack() -> None:
    settings = Settings.from_env({})
    assert settings.store_url == DEFAULT_STORE_URL
    assert settings.model_backend == "local"
    assert settings.port == 3000
    assert not settings.slack.bot_token
    assert not settings.slack.socket_mode


def test_retention_defaults_to_90_days_and_takes_a_whole_number() -> None:
    assert Settings.from_env({}).retention_days == 90
    assert Settings.from_env({"RETENTION_DAYS": "1"}).retention_days == 1


def test_admin_ids_accept_spaces_and_commas() -> None:
    settings = Settings.from_env({"ADMIN_USER_IDS": "U1, U2 U3,,"})
    assert settings.admin_user_ids == frozenset({"U1", "U2", "U3"})


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"STORE_URL": "mysql://db"}, "STORE_URL", "use sqlite:///PATH or firestore://PROJECT"),
        ({"STORE_URL": "sqlite:///"}, "STORE_URL", "no path"),
        ({"STORE_URL": "firestore://"}, "STORE_URL", "no project"),
        ({"PORT": "eighty"}, "PORT", "not a whole number"),
        ({"PORT": "70000"}, "PORT", "out of range"),
        ({"MODEL_BACKEND": "bedrock"}, "MODEL_BACKEND", "local, vertex, openai"),
        ({"MODEL_BACKEND": "openai"}, "OPENAI_BASE_URL", "required"),
        (
            {"MODEL_BACKEND": "openai", "OPENAI_BASE_URL": "http://localhost:11434/v1"},
            "OPENAI_MODEL",
            "required",
        ),
        ({"OPENAI_BASE_URL": "localhost:11434"}, "OPENAI_BASE_URL", "not an http(s) URL"),
        ({"OPENAI_FEW_SHOT_TOKENS": "lots"}, "OPENAI_FEW_SHOT_TOKENS", "not a whole number"),
        ({"MODEL_BACKEND": "vertex"}, "GOOGLE_CLOUD_PROJECT", "required"),
        (
            {"MODEL_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p"},
            "TUNING_BUCKET",
            "required",
        ),
        ({"TUNING_BUCKET": "s3://x"}, "TUNING_BUCKET", "gs://"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN", "xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET", "HTTP mode"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN", "required"),
        ({"SLACK_API_URL": "localhost:9"}, "SLACK_API_URL", "http(s) URL"),
        ({"PROMOTION_MARGIN": "-1"}, "PROMOTION_MARGIN", "out of range"),
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS", "out of range"),
        ({"RETENTION_DAYS": "30.5"}, "RETENTION_DAYS", "not a whole number"),
        ({"RETENTION_DAYS": "a month"}, "RETENTION_DAYS", "not a whole number"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL", "DEBUG"),
        ({"MODEL_PROCESSES": "-1"}, "MODEL_PROCESSES", "out of range"),
        ({"MODEL_PROCESSES": "two"}, "MODEL_PROCESSES", "not a whole number"),
        ({"QUEUE_URL": "redis://q"}, "QUEUE_URL", "pubsub://PROJECT/TOPIC"),
        ({"QUEUE_URL": "sqlite:///"}, "QUEUE_URL", "sqlite:///PATH"),
        ({"QUEUE_URL": "pubsub://proj"}, "QUEUE_URL", "not pubsub://PROJECT/TOPIC"),
        ({"QUEUE_URL": "pubsub:///work"}, "QUEUE_URL", "not pubsub://PROJECT/TOPIC"),
        ({"QUEUE_URL": "pubsub://proj/work?delivery=mail"}, "QUEUE_URL", "delivery=push or pull"),
        ({"QUEUE_URL": "pubsub://proj/work?batch=1"}, "QUEUE_URL", "delivery=push or pull"),
        ({"QUEUE_URL": "pubsub://proj/work"}, "PUBSUB_PUSH_AUDIENCE", "push"),
        (
            {
                "QUEUE_URL": "pubsub://proj/work",
                "PUBSUB_PUSH_AUDIENCE": PUSH_AUTH["PUBSUB_PUSH_AUDIENCE"],
            },
            "PUBSUB_PUSH_SERVICE_ACCOUNT",
            "push",
        ),
        ({"PUBSUB_PUSH_AUDIENCE": "bot.run.app/pubsub/push"}, "PUBSUB_PUSH_AUDIENCE", "http(s)"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert caught.value.variable == variable
    assert message.startswith(f"{variable}: ")
    assert fragment in message
    assert "\n" not in message


def test_slack_api_url_gets_a_trailing_slash() -> None:
    settings = Settings.from_env({"SLACK_API_URL": "http://127.0.0.1:9/api"})
    assert settings.slack.api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("env", "queue_url"),
    [
        ({}, DEFAULT_STORE_URL),
        ({"QUEUE_URL": "sqlite:"}, DEFAULT_STORE_URL),
        ({"STORE_URL": "sqlite:////srv/bot.db"}, "sqlite:////srv/bot.db"),
        ({"STORE_URL": "firestore://p", "DATA_DIR": "/data"}, "sqlite:////data/queue.db"),
        ({"QUEUE_URL": "sqlite:///q.db"}, "sqlite:///q.db"),
        ({"QUEUE_URL": "pubsub://proj/work", **PUSH_AUTH}, "pubsub://proj/work"),
        ({"QUEUE_URL": "pubsub://proj/work?delivery=pull"}, "pubsub://proj/work?delivery=pull"),
    ],
)
def test_queue_url_defaults_to_the_store_file_and_is_always_concrete(
    env: dict[str, str], queue_url: str
) -> None:
    settings = Settings.from_env(env)
    assert settings.queue_url == queue_url
    parse_queue_url(settings.queue_url)  # what open_queue accepts


def test_push_tokens_are_checked_unless_the_emulator_pushes() -> None:
    real = Settings.from_env({"QUEUE_URL": "pubsub://proj/work", **PUSH_AUTH})
    assert real.push.audience == "https://bot.example.run.app/pubsub/push"  # no slash added
    assert not real.push.unauthenticated
    emulated = Settings.from_env(
        {"QUEUE_URL": "pubsub://proj/work", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
    )
    assert emulated.push.unauthenticated
    # An audience given beside the emulator is still checked.
    both = Settings.from_env({"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085", **PUSH_AUTH})
    assert not both.push.unauthenticated
    assert not Settings.from_env({}).push.unauthenticated


def test_pubsub_queue_url_is_push_unless_pull_is_asked_for() -> None:
    assert parse_queue_url("pubsub://proj/work") == QueueTarget(
        "pubsub", project="proj", topic="work", push=True
    )
    assert not parse_queue_url("pubsub://proj/work?delivery=pull").push


@pytest.mark.parametrize(
    ("raw", "name"),
    [("", "upside_down_face"), (":Thinking_Face:", "thinking_face"), ("+1", "+1")],
)
def test_the_sarcastic_reaction_is_an_emoji_name_without_colons(raw: str, name: str) -> None:
    env = {"SARCASTIC_REACTION": raw} if raw else {}
    assert Settings.from_env(env).sarcastic_reaction == name


@pytest.mark.parametrize("raw", ["two words", "a:b", "::", "x" * 101])
def test_a_sarcastic_reaction_that_is_not_an_emoji_name_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="SARCASTIC_REACTION"):
        Settings.from_env({"SARCASTIC_REACTION": raw})
