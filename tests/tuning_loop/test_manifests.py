"""Every dataset and model version written gets a manifest that lists the records it holds.

Real local jobs through the TuningService and a real ``python -m tuning export``; the files they
write are grepped for every stored text, and each record whose text is found must be listed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.tuning_loop.conftest import Recorder
from tests.tuning_loop.factories import add_flags, add_replies, interaction, reply
from tests.tuning_loop.test_cli import cli
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.datasets.examples import text_split
from tuning.datasets.files import DatasetFiles
from tuning.errors import ConflictError, NotFoundError
from tuning.lifecycle.registry import promote, rollback
from tuning.lifecycle.service import TuningService
from tuning.models.serving import LiveModels
from tuning.records import (
    HUMAN_LABEL,
    WITHHELD,
    Correction,
    Interaction,
    JobRecord,
    Manifest,
    ModelVersion,
    Task,
    correction_id,
    dataset_manifest_id,
    model_manifest_id,
)
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow
FORGOTTEN = "U9"  # the author whose texts a test forgets


async def stored_texts(store: Store) -> dict[str, list[str]]:
    """Return each stored record's id with the texts of its own that a file could hold."""
    texts: dict[str, list[str]] = {}
    async for item in store.iter_interactions():
        texts[item.id] = [item.input_text] + ([item.output] if item.kind == "generate" else [])
    async for fix in store.iter_corrections():
        texts[correction_id(interaction_id=fix.interaction_id, user=fix.user)] = [fix.text]
    return texts


def files_text(*folders: Path) -> str:
    """Return everything written under ``folders``, as one string to grep (archives too)."""
    return "\n".join(
        path.read_bytes().decode("utf-8", errors="replace")
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    )


def found_in(blob: str, texts: dict[str, list[str]]) -> set[str]:
    """Return the ids of the records any of whose texts appear in ``blob`` (as JSON writes them)."""
    return {
        record
        for record, own in texts.items()
        if any(json.dumps(text, ensure_ascii=False)[1:-1] in blob for text in own)
    }


async def manifest(store: Store, manifest_id: str) -> Manifest:
    found = await store.get_manifest(manifest_id)
    assert found is not None, manifest_id
    return found


async def model_of(store: Store, job: JobRecord) -> Manifest:
    return await manifest(
        store, model_manifest_id(task=job.task, version=job.candidate_version or "")
    )


def train_prompt(n: int) -> str:
    """Return a distinct prompt that the datasets put in the train split (so models learn it)."""
    return next(
        prompt
        for i in range(100)
        if text_split(prompt := f"Is the marker-{n}-{i} kiosk in Riga working?") == "train"
    )


async def add_forgettable(store: Store, n: int) -> list[Interaction]:
    """Store ``n`` approved replies written by FORGOTTEN, to prompts in the train split."""
    made = []
    for i in range(n):
        item = dataclasses.replace(
            reply(f"u9-{i}", train_prompt(i), f"Oh yes, marker {i} works flawlessly."),
            author=FORGOTTEN,
        )
        await store.add_interaction(item)
        await store.add_feedback(interaction_id=item.id, user="U4", reaction="y", rating=1)
        made.append(item)
    return made


async def add_traps(store: Store) -> None:
    """Store the records the id rule must get right: a try-again lineage, a human label, a
    correction, and an unrated flag and reply that no dataset holds."""
    parent = reply("tp", "Is the roof-garden sprinkler fixed?", "Unrated parent reply qx.")
    child = reply("tc", parent.input_text, "Fixed? It is a fountain now.", parent="tp", minute=1)
    label = dataclasses.replace(
        interaction("hl", "What a lovely surprise, a fire drill at 5pm.", "sarcastic"),
        model_version=HUMAN_LABEL,
    )
    for item in (parent, child, label):
        await store.add_interaction(item)
    for rated in (child, label):
        await store.add_feedback(interaction_id=rated.id, user="U5", reaction="z", rating=1)
    await store.add_correction(
        Correction(interaction_id="g0a", user="U7", text="The build? Held together by prayer.")
    )
    await store.add_interaction(interaction("uf", "Unrated flag about the lobby plant.", "x"))
    await store.add_interaction(reply("ur", "Unrated prompt about the elevator?", "Unrated qz."))


async def test_datasets_and_models_list_every_record_whose_text_they_hold(
    service: tuple[TuningService, Recorder],
    sqlite_store: SqliteStore,
    loop_settings: Settings,
    tmp_path: Path,
) -> None:
    svc, _ = service
    live = await LiveModels.start(settings=loop_settings, store=sqlite_store)
    for task in ("classifier", "generator"):
        seed = await manifest(
            sqlite_store, model_manifest_id(task=task, version=live.versions[task])
        )
        assert (seed.kind, seed.record_ids) == ("model", frozenset())  # seed-only: no user text
        active = await sqlite_store.active_model(task=task)
        assert active is not None
        assert seed.locations == (active.artifact,)
    await add_flags(sqlite_store, 60)
    await add_replies(sqlite_store, 30)
    await add_traps(sqlite_store)
    texts = await stored_texts(sqlite_store)
    created = {i.id: i.created_at async for i in sqlite_store.iter_interactions()}
    async for fix in sqlite_store.iter_corrections():
        created[correction_id(interaction_id=fix.interaction_id, user=fix.user)] = fix.created_at

    out = tmp_path / "exports" / "pref-1"
    exported = cli(
        tmp_path, "export", "--task", "generator", "--method", "preference", "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    jobs = [
        await svc.wait((await svc.launch(task=task, method="sft", force=True)).id)
        for task in ("classifier", "generator")
    ]
    written = [(dataset_manifest_id("export-pref-1"), out)]
    for job in jobs:
        assert job.state == "SUCCEEDED", job.error
        written.append((dataset_manifest_id(job.id), loop_settings.data_dir / "datasets" / job.id))

    listed: dict[str, frozenset[str]] = {}
    for manifest_id, folder in written:
        dataset = await manifest(sqlite_store, manifest_id)
        assert dataset.locations == (str(folder.resolve()),)
        found = found_in(files_text(folder), texts)
        assert found, f"{folder} holds no stored text: the check would prove nothing"
        assert found <= dataset.record_ids, sorted(found - dataset.record_ids)
        assert dataset.record_ids <= set(texts)  # store records only, never base data
        assert dataset.oldest == min(created[record] for record in dataset.record_ids)
        listed[manifest_id] = dataset.record_ids
    export, classifier, generator = listed.values()
    assert "hl" in classifier  # a human label is a rated flag like any other
    assert {"tp", "tc"} <= generator & export  # the parent's prompt is the child's
    assert correction_id(interaction_id="g0a", user="U7") in generator
    everything = export | classifier | generator
    assert not {"uf", "ur"} & everything  # stored, but in no dataset: not listed
    assert not found_in(
        files_text(out, loop_settings.data_dir), {k: texts[k] for k in ("uf", "ur")}
    )

    # The base data is in the classifier's files too; it is no record, so it is never listed.
    base_rows = (loop_settings.data_dir / "datasets" / jobs[0].id / "train.jsonl").read_text()
    assert base_rows.count("\n") > len(classifier)
    for job, dataset_ids in zip(jobs, (classifier, generator), strict=True):
        model = await model_of(sqlite_store, job)
        assert model.record_ids == dataset_ids  # the seed model it continued from held none
        candidate = await sqlite_store.get_model(task=job.task, version=job.candidate_version or "")
        assert candidate is not None
        assert model.locations == (candidate.artifact,)
        assert found_in(files_text(Path(model.locations[0])), texts) <= model.record_ids
    await live.close()


async def test_a_generator_lists_what_its_base_pool_held(
    service: tuple[TuningService, Recorder], sqlite_store: SqliteStore, loop_settings: Settings
) -> None:
    svc, _ = service
    live = await LiveModels.start(settings=loop_settings, store=sqlite_store)
    await add_replies(sqlite_store, 30)
    forgettable = await add_forgettable(sqlite_store, 3)
    texts = await stored_texts(sqlite_store)
    first = await svc.wait((await svc.launch(task="generator", method="sft", force=True)).id)
    assert first.outcome == "promoted", first.metrics

    await sqlite_store.forget_user(user=FORGOTTEN)  # gone from the store, not from the pool
    second = await svc.wait((await svc.launch(task="generator", method="sft", force=True)).id)
    assert second.state == "SUCCEEDED", second.error
    dataset = await manifest(sqlite_store, dataset_manifest_id(second.id))
    model = await model_of(sqlite_store, second)
    gone = {item.id for item in forgettable}
    assert not gone & dataset.record_ids
    pool = files_text(Path(model.locations[0]))
    assert found_in(pool, {k: texts[k] for k in gone}) == gone  # the pool still holds them...
    assert gone <= model.record_ids  # ...so its manifest lists them
    assert model.record_ids == dataset.record_ids | (await model_of(sqlite_store, first)).record_ids
    await live.close()


class ForgetWhileTraining(LocalBackend):
    """The local backend, with a forget-me arriving as soon as the job has started."""

    def __init__(self, *, settings: Settings, store: Store) -> None:
        super().__init__(settings=settings, store=store)
        self.store = store

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        remote = await super().start(job=job, dataset=dataset, base=base)
        # What forget-me does to the store and the manifests before it deletes any file.
        erased = await self.store.forget_user(user=FORGOTTEN)
        for hit in await self.store.list_manifests():
            if hit.record_ids & erased.record_ids:
                await self.store.put_manifest(dataclasses.replace(hit, affected="forgotten"))
        return remote


async def test_a_job_whose_data_was_forgotten_while_it_trained_is_withheld(
    sqlite_store: SqliteStore, loop_settings: Settings
) -> None:
    live = await LiveModels.start(settings=loop_settings, store=sqlite_store)
    before = live.versions["generator"]
    await add_replies(sqlite_store, 20)
    await add_forgettable(sqlite_store, 2)
    recorder = Recorder()
    backend = ForgetWhileTraining(settings=loop_settings, store=sqlite_store)
    svc = TuningService(sqlite_store, loop_settings, {"local": backend}, on_change=recorder)
    try:
        job = await svc.wait((await svc.launch(task="generator", method="sft", force=True)).id)
    finally:
        await svc.close()

    assert (job.state, job.outcome) == ("SUCCEEDED", WITHHELD), job.error
    assert "forgotten" in job.metrics["decision"]
    assert "not promoted" in job.metrics["decision"]
    assert recorder.jobs[-1].outcome == WITHHELD  # what the notifier is told
    assert (await model_of(sqlite_store, job)).affected == "forgotten"
    assert await sqlite_store.active_version(task="generator") == before
    with pytest.raises(ConflictError, match="forgotten"):
        await promote(
            sqlite_store,
            task="generator",
            version=job.candidate_version or "",
            actor="U1",
            reason="by hand",
        )
    assert await sqlite_store.active_version(task="generator") == before
    await live.close()


async def test_rollback_passes_over_an_affected_version(sqlite_store: SqliteStore) -> None:
    task: Task = "classifier"
    for version in ("v1", "v2", "v3"):
        await sqlite_store.add_model(
            ModelVersion(task=task, version=version, backend="local", artifact=f"/m/{version}")
        )
        await promote(sqlite_store, task=task, version=version, actor="cli", reason="test")
    flagged = Manifest(
        id=model_manifest_id(task=task, version="v2"), kind="model", task=task, affected="forgotten"
    )
    await sqlite_store.put_manifest(flagged)

    assert (await rollback(sqlite_store, task=task, actor="cli")).version == "v1"
    assert await sqlite_store.active_version(task=task) == "v1"
    # v3 is clean and v2 still is not: rolling back again returns to v3, never to v2.
    assert (await rollback(sqlite_store, task=task, actor="cli")).version == "v3"
    await sqlite_store.put_manifest(dataclasses.replace(flagged, affected="expired"))
    await sqlite_store.put_manifest(
        dataclasses.replace(flagged, id=model_manifest_id(task=task, version="v1"))
    )
    with pytest.raises(NotFoundError, match="passed over"):
        await rollback(sqlite_store, task=task, actor="cli")
    assert await sqlite_store.active_version(task=task) == "v3"
