"""`/sarcasm` end to end: signed slash commands over HTTP, answers through the emulated Slack."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.admin.commands import USAGE
from bot.views.limits import block_kit_problems
from tests.admin.builders import model
from tests.admin.conftest import CONFIG_ADMIN, MEMBER, OPTED_OUT, WORKSPACE_ADMIN
from tests.harness import Harness
from tuning.config import Settings
from tuning.lifecycle.job_log import OnChange
from tuning.store.base import Store

CHANNEL = "C_GENERAL"
ROOT = Path(__file__).resolve().parents[2]


async def ask(
    running: Harness, text: str, *, user: str = MEMBER, channel: str = CHANNEL, answers: int = 1
) -> list[str]:
    """Run a command and return the text of every ephemeral answer it produced (at least one)."""
    ws = running.ws
    before = len(ws.ephemerals(user=user, channel=channel))
    reply = await ws.slash_command(user=user, channel=channel, text=text)
    assert reply.status == 200
    await ws.wait_for(lambda: len(ws.ephemerals(user=user, channel=channel)) >= before + answers)
    await running.bot.services.tasks.join()
    return [
        e.text + " " + str(e.blocks) for e in ws.ephemerals(user=user, channel=channel)[before:]
    ]


async def test_help_and_usage_errors_are_answered_in_the_ack(running: Harness) -> None:
    assert "/sarcasm forget-me" in (await ask(running, ""))[0]
    for text, says in [
        ("dance", "Unknown subcommand"),
        ("threshold 7", "not from 0 to 1"),
        ("retrain everything", "not classifier or generator"),
    ]:
        answer = (await ask(running, text))[0]
        assert says in answer
        assert "/sarcasm" in answer
    # Answered in the ack itself: no response_url was used.
    assert not [c for c in running.ws.calls() if c.method.startswith("chat.")]


async def test_status_and_jobs(running: Harness) -> None:
    versions = running.bot.services.models.versions
    status = (await ask(running, "status"))[-1]
    assert versions["classifier"] in status
    assert versions["generator"] in status
    assert "No job is running" in status
    assert "No tuning jobs yet" in (await ask(running, "jobs"))[-1]


async def test_optout_and_optin(running: Harness) -> None:
    store = running.store
    assert "Opted out" in (await ask(running, "optout"))[-1]
    assert await store.is_opted_out(user=MEMBER)
    assert "Opted in" in (await ask(running, "optin"))[-1]
    assert not await store.is_opted_out(user=MEMBER)


async def test_stats_uploads_a_png_with_the_summary(running: Harness) -> None:
    answers = " ".join(await ask(running, "stats", answers=2))
    assert "Working on it" in answers
    assert "Chart posted" in answers
    upload = running.ws.calls("files.completeUploadExternal")[-1]
    assert upload.params["channel_id"] == CHANNEL
    assert "Feedback over 30 days" in upload.params["initial_comment"]
    (file,) = running.ws.state.files.values()
    assert file.data is not None
    assert file.data[:8] == b"\x89PNG\r\n\x1a\n"
    posted = running.ws.messages(CHANNEL)[-1]
    assert posted["files"][0]["id"] == file.id


async def test_stats_where_the_bot_is_not_falls_back_to_the_summary(running: Harness) -> None:
    answers = " ".join(await ask(running, "stats", channel="C_WATERCOOLER", answers=2))
    assert "Feedback over 30 days" in answers
    assert "could not be uploaded here" in answers


async def test_threshold_and_mode_change_the_channel(running: Harness) -> None:
    store = running.store
    assert "threshold 0.65" in (await ask(running, "threshold 0.65", user=CONFIG_ADMIN))[-1]
    assert "mode reply" in (await ask(running, "mode reply", user=WORKSPACE_ADMIN))[-1]
    settings_now = await store.channel_settings(channel=CHANNEL)
    assert (settings_now.threshold, settings_now.mode) == (0.65, "reply")
    in_dm = (await ask(running, "mode off", user=CONFIG_ADMIN, channel=f"D_{CONFIG_ADMIN}"))[-1]
    assert "belong to a channel" in in_dm


async def test_explore_sets_the_channels_share_of_near_misses(running: Harness) -> None:
    answer = (await ask(running, "explore 10%", user=CONFIG_ADMIN))[-1]
    assert "marks 10% of near misses" in answer
    assert (await running.store.channel_settings(channel=CHANNEL)).explore == 0.1
    refused = (await ask(running, "explore 0.5", user=CONFIG_ADMIN))[-1]
    assert "not from 0 to 0.2" in refused
    denied = (await ask(running, "explore 0.2", user=MEMBER))[-1]
    assert "Only admins can run `/sarcasm explore`" in denied
    assert (await running.store.channel_settings(channel=CHANNEL)).explore == 0.1


async def test_promote_and_rollback(running: Harness) -> None:
    store = running.store
    first = await store.active_model(task="classifier")
    assert first is not None
    assert (
        "No model version `nosuchversion`"
        in (await ask(running, "promote nosuchversion", user=CONFIG_ADMIN))[-1]
    )
    await store.add_model(model("classifier", "clf-new", "candidate"))
    assert "Promoted `clf-new`" in (await ask(running, "promote clf-new", user=CONFIG_ADMIN))[-1]
    assert (await store.active_model(task="classifier")).version == "clf-new"  # type: ignore[union-attr]
    answer = (await ask(running, "rollback classifier", user=CONFIG_ADMIN))[-1]
    assert f"`{first.version}` is the active classifier" in answer
    nothing = (await ask(running, "rollback generator", user=CONFIG_ADMIN))[-1]
    assert "no earlier generator version" in nothing


async def _cli(running: Harness, *args: str) -> None:
    """Run ``python -m tuning`` on the bot's store, as an operator would beside the bot."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOOGLE_"))},
        "PYTHONPATH": str(ROOT),
        "STORE_URL": running.settings.store_url,
        "DATA_DIR": str(running.settings.data_dir),
        "MODEL_BACKEND": "local",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tuning", *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()


async def test_sarcasm_and_the_cli_audit_promotions_alike(running: Harness) -> None:
    """One record per promotion or rollback, of one shape, whichever way it was asked for."""
    store = running.store
    first = await store.active_model(task="classifier")
    assert first is not None
    await store.add_model(model("classifier", "clf-slack", "candidate"))
    await store.add_model(model("classifier", "clf-cli", "candidate"))
    await ask(running, "promote clf-slack", user=CONFIG_ADMIN)
    await ask(running, "rollback classifier", user=CONFIG_ADMIN)
    await _cli(running, "promote", "--task", "classifier", "--version", "clf-cli")
    await _cli(running, "rollback", "--task", "classifier")
    active = await store.active_model(task="classifier")
    assert active is not None
    entries = await store.list_audit(limit=10)  # newest first
    assert [(e.actor, e.action, e.result, dict(e.detail)) for e in entries] == [
        ("cli", "rollback classifier", active.version, {"from": "clf-cli"}),
        ("cli", "promote classifier", "clf-cli", {"reason": "promoted by hand"}),
        (CONFIG_ADMIN, "rollback classifier", first.version, {"from": "clf-slack"}),
        (CONFIG_ADMIN, "promote classifier", "clf-slack", {"reason": "promoted by hand"}),
    ]


async def test_a_refused_promotion_is_audited_once_under_the_registry_action(
    running: Harness,
) -> None:
    await running.store.add_model(model("classifier", "clf-cand", "candidate"))
    answer = (await ask(running, "promote classifier clf-cand", user=MEMBER))[-1]
    assert "Only admins" in answer
    (entry,) = await running.store.list_audit(limit=5)
    assert (entry.actor, entry.action, entry.result) == (
        MEMBER,
        "promote classifier",
        "denied: not an admin",
    )


def _no_tuning(settings: Settings, store: Store, *, on_change: OnChange) -> None:
    return None


@pytest.mark.parametrize("build_tuning", [_no_tuning])
async def test_retrain_without_a_tuning_service_says_so(running: Harness) -> None:
    (answer,) = await ask(running, "retrain classifier", user=CONFIG_ADMIN)
    assert "Tuning is not configured" in answer


@pytest.mark.parametrize(
    ("user", "admin"),
    [(CONFIG_ADMIN, True), (WORKSPACE_ADMIN, True), (MEMBER, False), (OPTED_OUT, False)],
)
async def test_authorization_matrix(running: Harness, user: str, admin: bool) -> None:
    answer = (await ask(running, "threshold 0.5", user=user))[-1]
    stored = await running.store.channel_settings(channel=CHANNEL)
    if admin:
        assert "now flags with threshold 0.50" in answer
        assert stored.threshold == 0.5
    else:
        assert f"Only admins can run `/sarcasm threshold`: ask <@{CONFIG_ADMIN}>" in answer
        assert stored.threshold == 0.8
    # Everyone may run the read-only and privacy subcommands, opted out or not.
    assert "sarcasm-bot status" in (await ask(running, "status", user=user))[-1]
    assert "Delete my data" in (await ask(running, "forget-me", user=user))[-1]
    (entry,) = await running.store.list_audit(limit=5)
    assert (entry.actor, entry.action) == (user, "threshold")
    assert entry.result.startswith(":white_check_mark:" if admin else "denied")
    assert entry.detail["value"] == 0.5


async def test_users_info_is_cached(running: Harness) -> None:
    for _ in range(3):
        await ask(running, "mode react", user=WORKSPACE_ADMIN)
    lookups = [c for c in running.ws.calls("users.info") if c.params.get("user") == WORKSPACE_ADMIN]
    assert len(lookups) == 1


async def test_forget_me_needs_the_button(running: Harness) -> None:
    ws = running.ws
    await running.store.add_feedback(
        interaction_id="nothing-yet", user=MEMBER, reaction="+1", rating=1
    )
    await ask(running, "forget-me")
    question = ws.ephemerals(user=MEMBER, channel=CHANNEL)[-1]
    assert [f async for f in running.store.iter_feedback()]  # nothing deleted before the click
    reply = await ws.click_button(
        user=MEMBER, action_id="forget_me_confirm", channel=CHANNEL, ts=question.ts
    )
    assert reply.status == 200
    await ws.wait_for(lambda: "Deleted" in question.text)
    assert "Deleted 1 record(s)" in question.text
    assert [f async for f in running.store.iter_feedback()] == []


async def test_a_double_click_on_the_forget_me_button_is_done_once(running: Harness) -> None:
    ws = running.ws
    await running.store.add_feedback(interaction_id="i-1", user=MEMBER, reaction="+1", rating=1)
    await ask(running, "forget-me")
    question = ws.ephemerals(user=MEMBER, channel=CHANNEL)[-1]
    clicks = [
        ws.click_button(user=MEMBER, action_id="forget_me_confirm", channel=CHANNEL, ts=question.ts)
        for _ in range(2)
    ]
    assert [reply.status for reply in await asyncio.gather(*clicks)] == [200, 200]
    await running.idle()
    assert "Deleted 1 record(s)" in question.text
    done = [e for e in await running.store.list_audit(limit=10) if e.action == "forget-me"]
    assert [(e.actor, e.detail["records"]) for e in done] == [(MEMBER, 1)]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from([*USAGE, "classifier", "force", "7", "0.5", "off", "x"])
        | st.text(max_size=8),
        max_size=4,
    )
)
async def test_fuzzed_commands_over_http_always_get_an_answer(
    running: Harness, words: list[str]
) -> None:
    answers = await ask(running, " ".join(words))
    assert all(answer.strip() for answer in answers)
    assert all("Sorry" not in answer for answer in answers)


async def test_home_for_admins_and_members(running: Harness) -> None:
    ws = running.ws
    await running.store.add_model(model("classifier", "clf-cand", "candidate"))
    for user in (WORKSPACE_ADMIN, MEMBER):
        reply = await ws.open_home(user=user)
        assert reply.status == 200
        await ws.wait_for(lambda: ws.home_view(user))  # noqa: B023 - awaited right here
    admin_view, member_view = ws.home_view(WORKSPACE_ADMIN), ws.home_view(MEMBER)
    assert admin_view is not None
    assert member_view is not None
    for view in (admin_view, member_view):
        assert block_kit_problems(view["blocks"]) == []
    assert "home_promote:classifier:clf-cand" in str(admin_view["blocks"])
    assert "home_retrain" not in str(member_view["blocks"])
    for call in ws.calls("views.publish"):
        assert call.ok, call
    assert any(b["type"] == "image" for b in admin_view["blocks"])


async def test_home_promote_button_promotes_and_republishes(running: Harness) -> None:
    ws = running.ws
    await running.store.add_model(model("classifier", "clf-cand", "candidate"))
    await ws.open_home(user=CONFIG_ADMIN)
    await ws.wait_for(lambda: ws.home_view(CONFIG_ADMIN))
    await ws.click_button(user=CONFIG_ADMIN, action_id="home_promote:classifier:clf-cand")
    await ws.wait_for(lambda: "Promoted `clf-cand`" in str(ws.home_view(CONFIG_ADMIN)))
    assert (await running.store.active_model(task="classifier")).version == "clf-cand"  # type: ignore[union-attr]
    (entry,) = await running.store.list_audit(limit=5)
    assert (entry.actor, entry.action) == (CONFIG_ADMIN, "promote classifier")


async def test_a_forged_home_click_from_a_member_is_refused(running: Harness) -> None:
    ws = running.ws
    await running.store.add_model(model("classifier", "clf-cand", "candidate"))
    await ws.open_home(user=MEMBER)
    await ws.wait_for(lambda: ws.home_view(MEMBER))
    await ws.click_button(
        user=MEMBER, action_id="home_promote:classifier:clf-cand", value="classifier:clf-cand"
    )
    await ws.wait_for(lambda: "Only admins" in str(ws.home_view(MEMBER)))
    assert (await running.store.active_model(task="classifier")).version != "clf-cand"  # type: ignore[union-attr]


async def test_forget_me_from_home_answers_on_home(running: Harness) -> None:
    ws = running.ws
    await running.store.add_feedback(interaction_id="i1", user=MEMBER, reaction="+1", rating=1)
    await ws.open_home(user=MEMBER)
    await ws.wait_for(lambda: ws.home_view(MEMBER))
    await ws.click_button(user=MEMBER, action_id="forget_me_confirm")
    await ws.wait_for(lambda: "Deleted 1 record(s)" in str(ws.home_view(MEMBER)))
    assert [f async for f in running.store.iter_feedback(include_retracted=True)] == []
