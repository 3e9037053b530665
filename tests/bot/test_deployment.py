"""The Dockerfile and manifest.yml agree with the project they ship (no Docker engine needed)."""

import re
import shlex
from pathlib import Path

import pytest

from bot.transports.http import EVENTS_PATH, HEALTH_PATH
from tuning.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _all(keyword: str) -> list[str]:
    return [args for kw, args in _instructions() if kw == keyword]


def test_base_image_is_slim_python_311():
    assert _all("FROM") == ["python:3.11-slim"]


def test_runs_the_bot_module_as_non_root():
    assert _all("CMD") == ['["python", "-m", "bot"]']
    assert (ROOT / "bot" / "__main__.py").is_file()
    users = _all("USER")
    assert users
    assert users[-1] not in ("root", "0")


def test_port_matches_settings_default():
    env = " ".join(_all("ENV"))
    assert f"PORT={Settings().port}" in env
    assert _all("EXPOSE") == [str(Settings().port)]


def test_installs_from_the_constraints_file_it_copies():
    copied = [Path(p) for args in _all("COPY") for p in shlex.split(args)[:-1]]
    for path in copied:
        assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    constraint_runs = [r for r in _all("RUN") if "--constraint" in r or " -c " in r]
    assert constraint_runs
    named = re.search(r"(?:--constraint|-c)\s+(\S+)", constraint_runs[0])
    assert named
    assert Path(named.group(1)) in copied


def test_healthcheck_hits_the_health_route():
    [check] = _all("HEALTHCHECK")
    assert f"{HEALTH_PATH}" in check
    assert "PORT" in check


def test_store_url_env_is_valid():
    env = dict(
        item.split("=", 1) for args in _all("ENV") for item in shlex.split(args) if "=" in item
    )
    settings = Settings.from_env({"STORE_URL": env["STORE_URL"], "DATA_DIR": env["DATA_DIR"]})
    assert settings.store_url.startswith("sqlite:////")


def _manifest_items(section: str) -> set[str]:
    text = (ROOT / "manifest.yml").read_text()
    block = re.split(rf"^\s+{section}:$", text, maxsplit=1, flags=re.M)[1]
    items = set()
    for line in block.splitlines()[1:]:  # [0] is the rest of the section's own line
        match = re.match(r"\s+- (\S+)$", line)
        if not match:
            break
        items.add(match.group(1))
    return items


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "bot",
            {
                "app_mentions:read",
                "channels:history",
                "groups:history",
                "im:history",
                "chat:write",
                "commands",
                "reactions:read",
                "reactions:write",
                "users:read",
                "files:write",
            },
        ),
        (
            "bot_events",
            {
                "app_mention",
                "message.channels",
                "message.groups",
                "message.im",
                "reaction_added",
                "reaction_removed",
                "app_home_opened",
            },
        ),
    ],
)
def test_manifest_lists_scopes_and_events(section, expected):
    assert _manifest_items(section) == expected


def test_manifest_modes_and_urls():
    text = (ROOT / "manifest.yml").read_text()
    assert re.search(r"^\s+socket_mode_enabled: true$", text, re.M)
    assert "command: /sarcasm" in text
    assert f"https://HOST{EVENTS_PATH}" in text
    assert re.search(r"home_tab_enabled: true", text)
    assert re.search(r"messages_tab_enabled: true", text)
