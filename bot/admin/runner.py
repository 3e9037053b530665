"""Run parsed `/sarcasm` commands against the store and the tuning loop; answer in one line.

Shared by the slash command and the App Home buttons. :meth:`AdminRunner.run` never raises:
our own errors become their message, anything else is logged and becomes one friendly line.

Each admin command leaves one audit record. Promotions and rollbacks are recorded by
:mod:`tuning.lifecycle.registry`, as they are from the CLI and from jobs; the runner records
every other admin command, and the promotions and rollbacks that never reached the registry
(refused, or naming an unknown version), under the registry's action names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.admin import commands as c
from bot.admin.authz import Authorizer
from bot.admin.job_progress import ProgressReporter, response_url_notify
from bot.transports.slack_client import SLACK_ERRORS
from bot.views import blocks as bk
from bot.views import messages as views
from tuning.errors import NotFoundError, SarcasmError
from tuning.lifecycle import registry
from tuning.privacy.erase import PrivacyService
from tuning.privacy.reports import ForgetReport
from tuning.queue.base import WorkQueue
from tuning.records import EXPLORE_WINDOW, TASKS, AuditEntry, JobRecord, Method, Task
from tuning.reporting.chart import render_chart
from tuning.reporting.dashboard import gather_dashboard
from tuning.reporting.reports import collect_report, summarize
from tuning.store.base import Store

log = logging.getLogger(__name__)
SORRY = ":warning: Sorry, that did not work. The details are in the bot's log."


class Tuning(Protocol):
    """What the admin commands need from the tuning loop's service."""

    async def launch(
        self,
        *,
        task: Task,
        method: Method,
        backend: str | None = None,
        force: bool = False,
        notify: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Record a job and start it in the background; return it at once."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who ran a command, from where, and how to answer them later."""

    user: str
    channel: str = ""
    response_url: str | None = None
    is_admin: bool = False


@dataclass(frozen=True)
class Answer:
    """What to show the caller: text, and blocks when there is more than a line."""

    text: str
    blocks: list[bk.Block] | None = None
    # True when tuning.lifecycle.registry already wrote this command's audit record.
    audited: bool = False


class AdminRunner:
    """Execute commands; admin-only ones are refused (and audited) for everyone else."""

    def __init__(
        self,
        *,
        store: Store,
        tuning: Tuning | None,
        authorizer: Authorizer,
        reporter: ProgressReporter,
        privacy: PrivacyService | None = None,
        queue: WorkQueue | None = None,
    ) -> None:
        self.store = store
        self.queue = queue  # forget-me blanks the user's waiting and dead work items in it
        self.tuning = tuning
        self.authorizer = authorizer
        self.reporter = reporter
        self.privacy = privacy  # None: forget-me reaches the store only (a bare test runner)

    async def run(self, command: c.Command, caller: Caller, client: AsyncWebClient) -> Answer:
        """Run one command for ``caller`` and return the answer; never raise."""
        name = c.subcommand_of(command)
        if name in c.ADMIN_SUBCOMMANDS and not caller.is_admin:
            await self._audit(caller, command, "denied: not an admin")
            return Answer(views.build_refusal_text(name, self.authorizer.admin_user_ids))
        try:
            answer = await self._dispatch(command, caller, client)
        except SarcasmError as error:
            answer = Answer(f":warning: {error}")
        except Exception:  # any bug: the admin gets one line, the log the traceback
            log.exception("admin command failed", extra={"subcommand": name})
            answer = Answer(SORRY)
        if name in c.ADMIN_SUBCOMMANDS and not answer.audited:
            await self._audit(caller, command, answer.text)
        return answer

    async def _dispatch(self, command: c.Command, caller: Caller, client: AsyncWebClient) -> Answer:
        match command:
            case c.Help() | c.Status() | c.Jobs():
                return await self._show(command, caller)
            case c.Stats():
                return await self.stats(caller, client)
            case c.OptOut() | c.OptIn():
                out = isinstance(command, c.OptOut)
                await self.store.set_opt_out(user=caller.user, opted_out=out)
                return Answer(
                    ":see_no_evil: Opted out: your messages are not flagged or stored."
                    if out
                    else ":wave: Opted in: the bot may flag your messages again."
                )
            case c.ForgetMe():
                return Answer("Delete your data?", views.build_forget_me_blocks())
            case c.Retrain():
                return await self.retrain(command, caller, client)
            case c.Promote():
                return await self.promote(command, caller)
            case c.Rollback():
                return await self.rollback(command, caller)
            case c.Threshold() | c.Mode() | c.Explore():
                return await self.channel_setting(command, caller)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    async def _show(self, command: c.Help | c.Status | c.Jobs, caller: Caller) -> Answer:
        match command:
            case c.Help(topic=topic):
                blocks = views.build_help_blocks(c.help_lines(topic), one=topic is not None)
                return Answer("sarcasm-bot usage", blocks)
            case c.Status():
                dashboard = await gather_dashboard(self.store, user=caller.user, is_admin=False)
                return Answer("sarcasm-bot status", views.build_status_blocks(dashboard))
        jobs = await self.store.list_jobs(limit=10)
        return Answer("Last tuning jobs", views.build_jobs_blocks(jobs))

    async def forget(self, caller: Caller) -> Answer:
        """Delete the caller's texts and feedback everywhere, and say what went, in counts.

        Deletions that failed (a GCS permission error) are in the answer, and in App Home and
        `/sarcasm status` for the admins, until a later ``tick`` retries them successfully.
        """
        if self.privacy is None:
            erased = await self.store.forget_user(user=caller.user)
            report = ForgetReport(user=caller.user, records=erased)
        else:
            report = await self.privacy.forget_user(user=caller.user)
        queued = 0 if self.queue is None else await self.queue.erase_user(user=caller.user)
        pending = len(report.cleanup.pending)
        await self.store.add_audit(
            AuditEntry(
                actor=caller.user,
                action="forget-me",
                result=f"{report.records.total} records deleted, {pending} pending",
                detail={
                    "records": report.records.total,
                    "rebuilt": len(report.cleanup.rebuilt),
                    "flagged": len(report.cleanup.flagged),
                    "pending": pending,
                    "queued": queued,
                },
            )
        )
        text = "\n".join(report.lines())
        if queued:
            text += f"\n{queued} of your messages still waiting to be handled were dropped."
        if pending:
            text += "\n:warning: The admins see what is left in App Home; it is retried."
        return Answer(f":wastebasket: {text}")

    async def retrain(self, command: c.Retrain, caller: Caller, client: AsyncWebClient) -> Answer:
        """Launch a job whose progress goes to a thread, the response_url or a DM."""
        if self.tuning is None:
            return Answer(":warning: Tuning is not configured in this bot process.")
        notify = await self._notify_target(caller, client, command)
        job = await self.tuning.launch(
            task=command.task, method=command.method, force=command.force, notify=notify
        )
        # Report "queued" here too: launch may return before its own hook ran (claims dedupe).
        await self.reporter.on_change(job)
        where = "in the thread" if "thread_ts" in notify else "here"
        return Answer(f":rocket: Launched job `{job.id}`; progress is posted {where}.")

    async def promote(self, command: c.Promote, caller: Caller) -> Answer:
        """Promote a registered version, looking in both tasks when none was named."""
        tasks: tuple[Task, ...] = (command.task,) if command.task else TASKS
        found = []
        for task in tasks:
            model = await self.store.get_model(task=task, version=command.version)
            if model is not None:
                found.append(model)
        if not found:
            raise NotFoundError(f"No model version `{command.version}`. See `/sarcasm status`.")
        if len(found) > 1:
            raise c.UsageError(
                f"`{command.version}` names a classifier and a generator; say which.",
                subcommand="promote",
            )
        model = await registry.promote(
            self.store,
            task=found[0].task,
            version=found[0].version,
            actor=caller.user,
            reason=registry.BY_HAND,
        )
        return Answer(
            f":tada: Promoted `{model.version}`: it is the active {model.task}.", audited=True
        )

    async def rollback(self, command: c.Rollback, caller: Caller) -> Answer:
        """Reactivate the previous version of the command's task."""
        try:
            model = await registry.rollback(self.store, task=command.task, actor=caller.user)
        except NotFoundError as error:  # nothing to roll back to; the registry recorded that
            return Answer(f":warning: {error}", audited=True)
        return Answer(
            f":rewind: Rolled back: `{model.version}` is the active {command.task}.", audited=True
        )

    async def channel_setting(
        self, command: c.Threshold | c.Mode | c.Explore, caller: Caller
    ) -> Answer:
        """Change the current channel's threshold, mode or exploration share."""
        if not caller.channel or caller.channel.startswith("D"):
            return Answer(":warning: Flag settings belong to a channel: run this in one.")
        current = await self.store.channel_settings(channel=caller.channel)
        if isinstance(command, c.Threshold):
            updated = dataclasses.replace(current, threshold=command.value)
            said = f"threshold {command.value:.2f}"
        elif isinstance(command, c.Mode):
            updated = dataclasses.replace(current, mode=command.mode)
            said = f"mode {command.mode}"
        else:
            updated = dataclasses.replace(current, explore=command.share)
            await self.store.put_channel_settings(updated)
            return Answer(
                f":white_check_mark: <#{caller.channel}> now marks {command.share:.0%} of near "
                f"misses (up to {EXPLORE_WINDOW:.2f} below its threshold) as sarcastic?"
            )
        await self.store.put_channel_settings(updated)
        return Answer(f":white_check_mark: <#{caller.channel}> now flags with {said}.")

    async def stats(self, caller: Caller, client: AsyncWebClient) -> Answer:
        """Upload the chart with its summary; fall back to the summary alone."""
        report = await collect_report(self.store, days=30)
        active = {t: await self.store.active_model(task=t) for t in TASKS}
        summary = summarize(report, active=active)
        png = await asyncio.to_thread(render_chart, report)
        try:
            await client.files_upload_v2(
                channel=caller.channel,
                content=png,
                filename="sarcasm-stats.png",
                title="sarcasm-bot: feedback and model metrics",
                initial_comment=summary,
            )
        except SLACK_ERRORS as error:
            log.warning("chart upload failed", extra={"error": str(error)})
            return Answer(f"{summary}\n_(The chart could not be uploaded here.)_")
        return Answer(":chart_with_upwards_trend: Chart posted.\n" + summary)

    async def _notify_target(
        self, caller: Caller, client: AsyncWebClient, command: c.Retrain
    ) -> dict[str, Any]:
        what = f"the {command.task} ({command.method}{', forced' if command.force else ''})"
        text = f":wrench: <@{caller.user}> started retraining {what}."
        try:
            posted = await client.chat_postMessage(channel=caller.channel or caller.user, text=text)
            return {"user": caller.user, "channel": posted["channel"], "thread_ts": posted["ts"]}
        except SLACK_ERRORS as error:
            log.info("cannot start a thread; using response_url", extra={"error": str(error)})
        if caller.response_url:
            return response_url_notify(
                user=caller.user, channel=caller.channel, response_url=caller.response_url
            )
        return {"user": caller.user}

    async def _audit(self, caller: Caller, command: c.Command, result: str) -> None:
        detail = {k: v for k, v in dataclasses.asdict(command).items() if v is not None}
        entry = AuditEntry(
            actor=caller.user,
            action=_audit_action(command),
            result=bk.clip(result, 500),
            detail={**detail, "channel": caller.channel},
        )
        try:
            await self.store.add_audit(entry)
        except SarcasmError:
            log.exception("audit write failed", extra={"action": entry.action})


def _audit_action(command: c.Command) -> str:
    # A promotion or rollback the registry never saw is named as the registry names it.
    match command:
        case c.Promote(task=str() as task):
            return registry.audit_action("promote", task)
        case c.Rollback(task=task):
            return registry.audit_action("rollback", task)
    return c.subcommand_of(command)
