"""MODEL_BACKEND=vertex in a process without a Vertex backend: retrain explains, nothing runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.admin.conftest import CONFIG_ADMIN, Running
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.lifecycle.service import TuningService
from tuning.store.base import Store


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {"MODEL_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p1", "TUNING_BUCKET": "gs://b"}


@pytest.fixture
def make_tuning() -> Callable[[Settings, Store], Any]:
    def build(settings: Settings, store: Store) -> TuningService:
        return TuningService(
            store, settings, {"local": LocalBackend(settings=settings, store=store)}
        )

    return build


async def test_retrain_on_an_unconfigured_backend_gets_the_reason(running: Running) -> None:
    ws = running.ws
    await ws.slash_command(user=CONFIG_ADMIN, channel="C_GENERAL", text="retrain classifier")
    await ws.wait_for(lambda: ws.ephemerals(user=CONFIG_ADMIN))
    await running.services.tasks.join()
    texts = " ".join(e.text for e in ws.ephemerals(user=CONFIG_ADMIN))
    assert "the vertex tuning backend is not available here" in texts
    assert await running.store.list_jobs() == []
    (entry,) = await running.store.list_audit()
    assert "not available" in entry.result


async def test_home_retrain_button_reports_in_a_direct_message(running: Running) -> None:
    ws = running.ws
    await ws.open_home(user="U_YOU")
    await ws.wait_for(lambda: ws.home_view("U_YOU"))
    await ws.click_button(user="U_YOU", action_id="home_retrain:classifier:sft")
    await ws.wait_for(lambda: "not available" in str(ws.home_view("U_YOU")))
    # The thread for progress was started in the admin's DM with the bot.
    assert "started retraining the classifier" in ws.messages("D_YOU")[-1]["text"]
