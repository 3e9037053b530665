"""The Dockerfile and manifest.yml agree with the project they ship (no Docker engine needed)."""

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from bot.replying.streaming import STREAM_SCOPES
from bot.runtime import CLEANUP_SECONDS, DRAIN_SECONDS
from bot.transports.http import EVENTS_PATH, HEALTH_PATH, LIVE_PATH
from tuning.config import Settings
from tuning.store.firestore.setup import gcloud_commands

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


def test_user_is_numeric_and_created_with_that_uid():
    [user] = _all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert any(f"--uid {uid}" in run for run in _all("RUN"))
    assert not gid or any(f"--gid {gid}" in run for run in _all("RUN"))


def test_copies_every_file_pyproject_builds_from():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = {Path(p) for args in _all("COPY") for p in shlex.split(args)[:-1]}
    for name in pyproject["project"]["license-files"]:
        assert Path(name) in copied, f"Dockerfile does not copy {name} (license-files)"
    assert Path(pyproject["project"]["readme"]) in copied


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


def test_manifest_grants_what_streamed_replies_need():
    # https://docs.slack.dev/reference/methods/chat.startStream (and appendStream, stopStream).
    assert _manifest_items("bot") >= STREAM_SCOPES


def test_manifest_modes_and_urls():
    text = (ROOT / "manifest.yml").read_text()
    assert re.search(r"^\s+socket_mode_enabled: true$", text, re.M)
    assert "command: /sarcasm" in text
    assert f"https://HOST{EVENTS_PATH}" in text
    assert re.search(r"home_tab_enabled: true", text)
    assert re.search(r"messages_tab_enabled: true", text)


# -- the README's gcloud commands, checked against the installed gcloud's --help --------------

GCLOUD_COMMANDS = (
    ("run", "deploy"),
    ("run", "jobs", "deploy"),
    ("run", "jobs", "add-iam-policy-binding"),
    ("run", "services", "add-iam-policy-binding"),
    ("run", "services", "describe"),
    ("scheduler", "jobs", "create", "http"),
    ("iam", "service-accounts", "create"),
    ("projects", "add-iam-policy-binding"),
    ("projects", "describe"),
    ("storage", "buckets", "add-iam-policy-binding"),
    ("secrets", "create"),
    ("secrets", "add-iam-policy-binding"),
    ("firestore", "indexes", "composite", "create"),
    ("firestore", "indexes", "fields", "update"),
    ("firestore", "fields", "ttls", "update"),
    ("pubsub", "topics", "create"),
    ("pubsub", "subscriptions", "create"),
)


def _readme_gcloud_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            # A command starts a line, follows a pipe or opens $( ); comments are not commands.
            match = re.search(r"(?:^\s*|\|\s*|\$\()(gcloud .*)", line.split(" # ")[0])
            if match:
                tail = match.group(1).removesuffix("; do").removesuffix(")")
                commands.append(shlex.split(tail))
    return commands


def _command_path(tokens: list[str]) -> tuple[str, ...]:
    matches = [path for path in GCLOUD_COMMANDS if tuple(tokens[1 : 1 + len(path)]) == path]
    assert matches, f"add {' '.join(tokens[:5])} to GCLOUD_COMMANDS"
    return max(matches, key=len)


def _gcloud_flags(path: tuple[str, ...]) -> set[str]:
    result = subprocess.run(
        ["gcloud", *path, "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    flags = set()
    for negatable, name in re.findall(r"--(\[no-\])?([a-z0-9][a-z0-9-]*)", plain):
        flags.add(f"--{name}")
        if negatable:
            flags.add(f"--no-{name}")
    return flags


def _deploys(service: str) -> list[list[str]]:
    return [c for c in _readme_gcloud_commands() if c[1:4] == ["run", "deploy", service]]


def test_readme_deploys_with_the_flags_issue_11_needs():
    [deploy] = _deploys("sarcasm-bot")
    for flag in (
        "--allow-unauthenticated",
        "--service-account",
        "--set-secrets",
        "--no-cpu-throttling",
        "--timeout",
        "--startup-probe",
        "--liveness-probe",
    ):
        assert flag in deploy
    liveness = deploy[deploy.index("--liveness-probe") + 1]
    assert f"httpGet.path={LIVE_PATH}" in liveness
    assert HEALTH_PATH not in liveness
    assert f"--port {Settings().port}" in " ".join(deploy)


def test_the_reward_scorer_is_private_and_only_vertex_may_call_it():
    # Slack must reach the bot without credentials; nobody but Vertex's tuning agent may reach
    # the scorer (issue 14).
    [deploy] = _deploys("sarcasm-reward")
    assert "--no-allow-unauthenticated" in deploy
    assert "--allow-unauthenticated" not in deploy
    bindings = [
        c
        for c in _readme_gcloud_commands()
        if c[1:4] == ["run", "services", "add-iam-policy-binding"]
    ]
    assert any(
        "gcp-sa-vertex-tune.iam.gserviceaccount.com" in " ".join(c) and "roles/run.invoker" in c
        for c in bindings
    )


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not on PATH")
def test_every_gcloud_flag_the_readme_and_setup_use_exists():
    commands = _readme_gcloud_commands()
    commands += [shlex.split(c) for c in gcloud_commands(project="p", database="d", prefix="x")]
    known: dict[tuple[str, ...], set[str]] = {}
    for tokens in commands:
        path = _command_path(tokens)
        if path not in known:
            known[path] = _gcloud_flags(path)
        used = {token.split("=", 1)[0] for token in tokens if token.startswith("--")}
        assert used <= known[path], f"gcloud {' '.join(path)}: unknown {used - known[path]}"
    assert ("run", "deploy") in known
    assert ("scheduler", "jobs", "create", "http") in known


def test_stop_ends_two_seconds_before_cloud_runs_sigkill():
    # Cloud Run: SIGTERM, then SIGKILL 10 s later. drain() may overrun by 1 s (its cancel wait),
    # which the cleanup deadline absorbs, so the whole stop ends by DRAIN + CLEANUP.
    assert DRAIN_SECONDS + 1.0 < DRAIN_SECONDS + CLEANUP_SECONDS <= 10.0 - 2.0
