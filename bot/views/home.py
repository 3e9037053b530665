"""The App Home dashboard: everyone sees models, jobs, feedback and settings; admins get buttons.

Button action_ids are ``home_<verb>:<args>`` (unique within their block, as Slack requires); the
listener matches them by prefix and reads the arguments back from the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.views import blocks as bk
from bot.views.format import flagged_text, job_line, model_line, pending_text, when
from bot.views.messages import FORGET_ME_ACTION
from tuning.records import TASKS, Task
from tuning.reporting.dashboard import Dashboard
from tuning.reporting.reports import feedback_totals

RETRAIN_ACTION = "home_retrain"
PROMOTE_ACTION = "home_promote"
ROLLBACK_ACTION = "home_rollback"
RETRAIN_CHOICES = (("classifier", "sft"), ("generator", "sft"), ("generator", "preference"))


def build_home_view(
    dashboard: Dashboard,
    *,
    is_admin: bool,
    admins: Iterable[str] = (),
    chart_file_id: str | None = None,
    summary: str = "",
    notice: str | None = None,
) -> dict[str, Any]:
    """Return the Home tab view; ``notice`` is a one-line result of the last button pressed."""
    blocks: list[bk.Block] = [bk.header("sarcasm-bot")]
    if notice:
        blocks.append(bk.section(notice))
    blocks += [bk.section("\n".join(model_line(dashboard.active.get(t), t) for t in TASKS))]
    running = [job_line(job) for job in dashboard.running]
    blocks.append(bk.section("*Running*\n" + ("\n".join(running) or "No job is running.")))
    recent = [job_line(job) for job in dashboard.recent_jobs[:5]]
    blocks.append(bk.section("*Last jobs*\n" + ("\n".join(recent) or "No jobs yet.")))
    blocks.append(bk.section(_feedback_text(dashboard)))
    blocks.append(bk.section(_channels_text(dashboard)))
    if chart_file_id:
        blocks.append(bk.image(alt_text=summary or "feedback chart", slack_file_id=chart_file_id))
    if summary:
        blocks.append(bk.context(summary))
    blocks.append(bk.divider())
    if is_admin:
        blocks += _admin_blocks(dashboard)
    else:
        blocks.append(bk.context(_read_only_text(admins)))
    blocks.append(
        bk.actions(
            [
                bk.button(
                    "Forget me",
                    action_id=FORGET_ME_ACTION,
                    value="forget-me",
                    confirm_dialog=bk.confirm(
                        title="Delete your data?",
                        text="Delete every message of yours the bot stored and all your "
                        "feedback. This cannot be undone.",
                        ok="Delete",
                    ),
                )
            ],
            block_id="home_privacy",
        )
    )
    return {"type": "home", "blocks": bk.cap_blocks(blocks)}


def _feedback_text(dashboard: Dashboard) -> str:
    positive, negative = feedback_totals(dashboard.week)
    per_day = " ".join(f"{d.day:%a} +{d.positive}/-{d.negative}" for d in dashboard.week.days)
    return (
        f"*Feedback, last 7 days*: {positive} positive, {negative} negative\n{per_day}\n"
        f"{dashboard.feedback_since_last_job} since the last job ({when(dashboard.last_job_at)})"
    )


def _channels_text(dashboard: Dashboard) -> str:
    if not dashboard.channels:
        return "*Channels*: none where the bot answered you this week."
    lines = [
        f"<#{c.channel}>: {c.mode}, threshold {c.threshold:.2f}, :{c.reaction}:"
        for c in dashboard.channels
    ]
    return "*Channels*\n" + "\n".join(lines)


def _read_only_text(admins: Iterable[str]) -> str:
    named = ", ".join(f"<@{user}>" for user in sorted(admins))
    return "Retraining and promotion are for admins" + (f" ({named})." if named else ".")


def _admin_blocks(dashboard: Dashboard) -> list[bk.Block]:
    retrain = [
        bk.button(
            f"Retrain {task} ({method})",
            action_id=f"{RETRAIN_ACTION}:{task}:{method}",
            value=f"{task}:{method}",
            confirm_dialog=bk.confirm(
                title=f"Retrain the {task}?",
                text=f"Start a {method} tuning job for the {task} now. It is promoted only if "
                "it beats the active model.",
                ok="Retrain",
            ),
        )
        for task, method in RETRAIN_CHOICES
    ]
    rollback = [
        bk.button(
            f"Roll back {task}",
            action_id=f"{ROLLBACK_ACTION}:{task}",
            value=task,
            style="danger",
            confirm_dialog=bk.confirm(
                title=f"Roll back the {task}?",
                text=f"Reactivate the {task} version that was active before "
                f"`{_version(dashboard, task)}`.",
                ok="Roll back",
            ),
        )
        for task in TASKS
        if dashboard.active.get(task) is not None
    ]
    blocks = [bk.actions(retrain, block_id="home_retrain")]
    for note in (flagged_text(dashboard.flagged), pending_text(dashboard.pending)):
        if note:
            blocks.append(bk.section(note))
    blocks.append(bk.section("*Candidates*"))
    for model in dashboard.candidates:
        blocks.append(
            bk.section(
                f"`{model.version}` {model.task} ({model.backend}), created "
                f"{when(model.created_at)}",
                accessory=bk.button(
                    "Promote",
                    action_id=f"{PROMOTE_ACTION}:{model.task}:{model.version}"[: bk.MAX_ACTION_ID],
                    value=f"{model.task}:{model.version}",
                    style="primary",
                    confirm_dialog=bk.confirm(
                        title=f"Promote {model.task}?",
                        text=f"Make `{model.version}` the active {model.task} for everyone.",
                        ok="Promote",
                    ),
                ),
            )
        )
    if not dashboard.candidates:
        blocks.append(bk.context("No candidate models waiting."))
    if rollback:
        blocks.append(bk.actions(rollback, block_id="home_rollback"))
    return blocks


def _version(dashboard: Dashboard, task: Task) -> str:
    model = dashboard.active.get(task)
    return model.version if model is not None else "none"
