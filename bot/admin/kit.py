"""The admin collaborators of one bot process, shared by the command, Home and buttons.

``bot.runtime.start_bot`` builds the kit once and passes it to each admin listener.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.authz import Authorizer
from bot.admin.job_progress import ProgressReporter
from bot.admin.runner import AdminRunner
from bot.services import Services
from bot.transports.slack_client import SLACK_ERRORS
from bot.views.home import build_home_view
from tuning.records import TASKS
from tuning.reporting.chart import render_chart
from tuning.reporting.dashboard import gather_dashboard
from tuning.reporting.reports import collect_report, summarize

log = logging.getLogger(__name__)
# Home re-uses an uploaded chart this long, so opening the tab does not upload a file each time.
CHART_SECONDS = 600.0


@dataclass
class AdminKit:
    """The runner, authorizer and progress reporter of one process, plus the Home chart cache."""

    services: Services
    runner: AdminRunner
    authorizer: Authorizer
    reporter: ProgressReporter
    _chart: tuple[float, str, str] | None = field(default=None, repr=False)

    async def is_admin(self, client: AsyncWebClient, user: str) -> bool:
        """Return whether ``user`` may run admin commands."""
        return await self.authorizer.is_admin(client, user=user)

    async def publish_home(
        self, client: AsyncWebClient, *, user: str, notice: str | None = None
    ) -> None:
        """Publish the App Home dashboard for ``user`` (buttons for admins)."""
        store = self.services.store
        admin = await self.is_admin(client, user)
        dashboard = await gather_dashboard(store, user=user, is_admin=admin)
        file_id, summary = await self._home_chart(client)
        view = build_home_view(
            dashboard,
            is_admin=admin,
            admins=self.authorizer.admin_user_ids,
            chart_file_id=file_id,
            summary=summary,
            notice=notice,
        )
        await client.views_publish(user_id=user, view=view)

    async def _home_chart(self, client: AsyncWebClient) -> tuple[str | None, str]:
        store = self.services.store
        report = await collect_report(store, days=30)
        summary = summarize(report, active={t: await store.active_model(task=t) for t in TASKS})
        digest = hashlib.sha256(repr(report).encode()).hexdigest()
        if (
            self._chart
            and self._chart[1] == digest
            and time.monotonic() - self._chart[0] < CHART_SECONDS
        ):
            return self._chart[2], summary
        png = await asyncio.to_thread(render_chart, report)
        try:
            uploaded = await client.files_upload_v2(
                content=png, filename="sarcasm-home.png", title="sarcasm-bot chart"
            )
            file_id = cast(dict[str, Any], uploaded.get("file") or {}).get("id")
        except SLACK_ERRORS as error:
            log.warning(
                "home chart upload failed; showing the summary only", extra={"error": str(error)}
            )
            return None, summary
        if not file_id:
            return None, summary
        self._chart = (time.monotonic(), digest, file_id)
        return file_id, summary


def build_admin_kit(services: Services, *, reporter: ProgressReporter) -> AdminKit:
    """Return the admin collaborators of one process around the reporter its jobs report to."""
    authorizer = Authorizer(admin_user_ids=services.settings.admin_user_ids)
    runner = AdminRunner(
        store=services.store,
        tuning=services.tuning,
        authorizer=authorizer,
        reporter=reporter,
        privacy=services.privacy,
        queue=services.queue,
    )
    return AdminKit(services=services, runner=runner, authorizer=authorizer, reporter=reporter)
