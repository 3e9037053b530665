"""Blocks for `/sarcasm` answers: help, status, jobs, refusals and the forget-me question."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.views import blocks as bk
from bot.views.format import flagged_text, job_line, model_line, pending_text, when
from tuning.records import TASKS, JobRecord
from tuning.reporting.dashboard import Dashboard

FORGET_ME_ACTION = "forget_me_confirm"


def build_help_blocks(lines: Sequence[str], *, one: bool = False) -> list[bk.Block]:
    """Return the usage ``lines`` of every subcommand, or (``one``) of a single one alone."""
    if one:
        return [bk.section("\n".join(lines))]
    return [
        bk.header("/sarcasm"),
        bk.section("\n".join(lines)),
        bk.context("_(admins)_: only admins may run it. Everything else is for everyone."),
    ]


def build_usage_error_blocks(message: str, usage: str) -> list[bk.Block]:
    """Return a bad command's reason followed by the usage that would work."""
    return [bk.section(f":warning: {message}"), bk.section(usage)]


def build_status_blocks(dashboard: Dashboard) -> list[bk.Block]:
    """Return active models, running jobs and feedback since the last job."""
    lines = [model_line(dashboard.active.get(task), task) for task in TASKS]
    running = [job_line(job) for job in dashboard.running] or ["No job is running."]
    since = f"since the last job ({when(dashboard.last_job_at)})" if dashboard.last_job_at else ""
    feedback = f"{dashboard.feedback_since_last_job} feedback ratings {since}".strip() + "."
    blocks = [
        bk.header("sarcasm-bot status"),
        bk.section("\n".join(lines)),
        bk.section("\n".join(running)),
        bk.context(feedback),
    ]
    notes = (flagged_text(dashboard.flagged), pending_text(dashboard.pending))
    return [*blocks, *(bk.section(note) for note in notes if note)]


def build_jobs_blocks(jobs: Sequence[JobRecord]) -> list[bk.Block]:
    """Return the given jobs, one line each, newest first."""
    if not jobs:
        return [bk.section("No tuning jobs yet. Admins can start one with `/sarcasm retrain`.")]
    return [bk.header(f"Last {len(jobs)} tuning jobs"), *_line_sections(job_line(j) for j in jobs)]


def build_refusal_text(subcommand: str, admins: Iterable[str]) -> str:
    """Return the ephemeral refusal for a non-admin, saying who can run the subcommand."""
    named = ", ".join(f"<@{user}>" for user in sorted(admins))
    who = f"{named} or a workspace admin or owner" if named else "a workspace admin or owner"
    return f":lock: Only admins can run `/sarcasm {subcommand}`: ask {who}."


def build_forget_me_blocks() -> list[bk.Block]:
    """Return the forget-me question with a guarded delete button."""
    dialog = bk.confirm(
        title="Delete your data?",
        text="This deletes every message of yours the bot stored and all your feedback. "
        "It cannot be undone.",
        ok="Delete",
    )
    return [
        bk.section(
            "This deletes the messages of yours that sarcasm-bot stored, every reaction and "
            "correction you gave it, and every copy in its datasets; models that learnt from "
            "them are rebuilt without them (tuned cloud models are flagged for a retrain).",
            accessory=bk.button(
                "Delete my data",
                action_id=FORGET_ME_ACTION,
                value="forget-me",
                style="danger",
                confirm_dialog=dialog,
            ),
        )
    ]


def _line_sections(lines: Iterable[str]) -> list[bk.Block]:
    # Pack lines into as few sections as fit under the section text limit.
    sections: list[str] = [""]
    for line in lines:
        if len(sections[-1]) + len(line) + 1 > bk.MAX_SECTION_TEXT:
            sections.append("")
        sections[-1] = f"{sections[-1]}\n{line}" if sections[-1] else line
    return bk.cap_blocks([bk.section(text) for text in sections if text])
