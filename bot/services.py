"""The collaborators every listener needs, built once in ``main()`` and passed down."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from bot.background import BackgroundTasks
from tuning.config import Settings
from tuning.queue.base import WorkQueue
from tuning.store.base import Store

if TYPE_CHECKING:
    from tuning.lifecycle.service import TuningService
    from tuning.models.serving import LiveModels
    from tuning.privacy.erase import PrivacyService


@dataclass(frozen=True)
class Services:
    """Settings, store, live models and the background-task set of one bot process.

    ``make_client`` builds a Web API client for work that has no Bolt ``client`` at hand (job
    notifications). ``tuning`` is the tuning loop's service when the process runs it (the admin
    listeners use it), else None. ``instance`` names this process in store claims and leases.
    ``queue`` keeps the listeners' work durably before the ack (None: the work runs in memory),
    ``make_work_client`` builds the client of queued work, whose posts are never retried blindly
    (bot/replying/posts.py looks in the thread first), and ``wake(kind)`` tells this
    process's worker that work of ``kind`` was just put.
    """

    settings: Settings
    store: Store
    models: LiveModels
    make_client: Callable[[], AsyncWebClient]
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)
    tuning: TuningService | None = None
    privacy: PrivacyService | None = None
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    queue: WorkQueue | None = None
    make_work_client: Callable[[], AsyncWebClient] | None = None
    wake: Callable[[str], None] = field(default=lambda kind: None)
