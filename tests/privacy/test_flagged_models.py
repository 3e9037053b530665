"""Tuned models that learnt from forgotten data are listed to admins with what to do (issue 13).

A Vertex or OpenAI tuned model cannot be untrained: App Home and `/sarcasm status` say which
versions hold forgotten or expired data and suggest a retrain. Local ones are rebuilt instead.
"""

import dataclasses
from typing import Any

from bot.views.home import build_home_view
from bot.views.limits import block_kit_problems
from bot.views.messages import build_status_blocks
from tests.admin.builders import dashboard
from tuning.records import Manifest, ModelVersion
from tuning.reporting.dashboard import FlaggedModel, gather_dashboard
from tuning.store.base import Store


def _text(blocks: list[Any]) -> str:
    return "\n".join(str(block) for block in blocks)


async def test_the_dashboard_lists_affected_remote_models_only(sqlite_store: Store) -> None:
    store = sqlite_store
    for version, backend in (("tuned-1", "vertex"), ("local-1", "local"), ("tuned-2", "vertex")):
        await store.add_model(
            ModelVersion(task="generator", version=version, backend=backend, artifact="x")
        )
    await store.promote(task="generator", version="tuned-1")
    await store.put_manifest(
        Manifest(id="model:generator:tuned-1", kind="model", task="generator", affected="forgotten")
    )
    await store.put_manifest(
        Manifest(id="model:generator:local-1", kind="model", task="generator", affected="expired")
    )
    await store.put_manifest(Manifest(id="model:generator:tuned-2", kind="model", task="generator"))
    board = await gather_dashboard(store, user="UADMIN", is_admin=True)
    assert board.flagged == (
        FlaggedModel("generator", "tuned-1", "vertex", "forgotten", active=True),
    )


def test_status_and_admin_home_name_the_versions_and_suggest_a_retrain() -> None:
    flagged = tuple(
        FlaggedModel("generator", f"tuned-{n}", "vertex", "forgotten", active=n == 0)
        for n in range(25)
    )
    board = dataclasses.replace(dashboard(), flagged=flagged)
    status = build_status_blocks(board)
    home = build_home_view(board, is_admin=True)["blocks"]
    member = build_home_view(board, is_admin=False)["blocks"]
    for blocks in (status, home):
        text = _text(blocks)
        assert "`tuned-0` generator (vertex, active)" in text
        assert "/sarcasm retrain" in text
        assert "and 15 more" in text
        assert block_kit_problems(blocks) == []
    assert "tuned-0" not in _text(member)
    clean = build_status_blocks(dashboard())
    assert "retrain" not in _text(clean)


async def test_pending_deletions_are_shown_with_their_reason(sqlite_store: Store) -> None:
    reason = (
        "GCS refused access to gs://b (403): give the service account roles/storage.objectAdmin"
    )
    await sqlite_store.put_manifest(
        Manifest(
            id="dataset:job-1",
            kind="dataset",
            task="generator",
            affected="forgotten",
            pending=(f"gs://b/datasets/a.jsonl\t{reason}", f"gs://b/datasets/b.jsonl\t{reason}"),
        )
    )
    board = await gather_dashboard(sqlite_store, user="UADMIN", is_admin=True)
    assert board.pending == (reason, reason)
    for blocks in (build_status_blocks(board), build_home_view(board, is_admin=True)["blocks"]):
        text = _text(blocks)
        assert "2 deletions pending" in text
        assert text.count("roles/storage.objectAdmin") == 1
