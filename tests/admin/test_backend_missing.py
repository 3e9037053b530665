"""MODEL_BACKEND=vertex in a process without a Vertex backend: retrain explains, nothing runs."""

from __future__ import annotations

import pytest

from bot.runtime import BuildTuning
from tests.admin.conftest import CONFIG_ADMIN
from tests.harness import Harness
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.lifecycle.job_log import OnChange
from tuning.lifecycle.service import TuningService
from tuning.store.base import Store


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {"MODEL_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p1", "TUNING_BUCKET": "gs://b"}


@pytest.fixture
def build_tuning() -> BuildTuning:
    def build(settings: Settings, store: Store, *, on_change: OnChange) -> TuningService:
        backends = {"local": LocalBackend(settings=settings, store=store)}
        return TuningService(store, settings, backends, on_change=on_change)

    return build


async def test_retrain_on_an_unconfigured_backend_gets_the_reason(running: Harness) -> None:
    ws = running.ws
    await ws.slash_command(user=CONFIG_ADMIN, channel="C_GENERAL", text="retrain classifier")
    await ws.wait_for(lambda: ws.ephemerals(user=CONFIG_ADMIN))
    await running.bot.services.tasks.join()
    texts = " ".join(e.text for e in ws.ephemerals(user=CONFIG_ADMIN))
    assert "the vertex tuning backend is not available here" in texts
    assert await running.store.list_jobs() == []
    (entry,) = await running.store.list_audit()
    assert "not available" in entry.result


async def test_home_retrain_button_reports_in_a_direct_message(running: Harness) -> None:
    ws = running.ws
    await ws.open_home(user="U_YOU")
    await ws.wait_for(lambda: ws.home_view("U_YOU"))
    await ws.click_button(user="U_YOU", action_id="home_retrain:classifier:sft")
    await ws.wait_for(lambda: "not available" in str(ws.home_view("U_YOU")))
    # The thread for progress was started in the admin's DM with the bot.
    assert "started retraining the classifier" in ws.messages("D_YOU")[-1]["text"]
