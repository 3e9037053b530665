"""``python -m tuning bootstrap``: a public dataset joins the base data; models retrain."""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.conftest import SHARED_ISARCASM, Cli
from tuning.cli.bootstrap import dataset_name, parse_label, read_dataset
from tuning.datasets.basedata import load_base_messages
from tuning.errors import DatasetError
from tuning.models.builders import build_from_base, register, train_messages
from tuning.models.local_generator import LocalGenerator
from tuning.records import Manifest, ModelVersion, model_manifest_id
from tuning.store.sqlite.store import SqliteStore

SARCASTIC = [
    ("Oh wonderful, the zeppelin hangar flooded again", "The zeppelin hangar flooded again."),
    ("I just adore forty-minute badge queues", "The badge queue took forty minutes."),
    ("Fantastic, the vending machine ate my coins", "The vending machine kept my coins."),
]
SINCERE = ["The zeppelin hangar is dry now", "Badge queue is short today", "Vending machine fixed"]


def write_dataset(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "tweet", "sarcastic", "rephrase"])
        for i, (tweet, literal) in enumerate(SARCASTIC):
            writer.writerow([i, tweet, 1, literal])
        for i, tweet in enumerate(SINCERE, start=len(SARCASTIC)):
            writer.writerow([i, tweet, 0, ""])
        writer.writerow([99, "", 0, ""])  # public datasets have blank rows


def active_models(store_path: Path) -> dict[str, ModelVersion]:
    async def read() -> dict[str, ModelVersion]:
        store = SqliteStore(store_path)
        await store.open()
        try:
            found = {}
            for task in ("classifier", "generator"):
                model = await store.active_model(task=task)
                assert model is not None
                found[task] = model
            return found
        finally:
            await store.close()

    return asyncio.run(read())


ISARCASM_ARGS = ["--text-col", "tweet", "--label-col", "sarcastic", "--rephrase-col", "rephrase"]


def test_bootstrap_adds_data_retrains_and_promotes(cli: Cli) -> None:
    source = cli.workdir / "mini.csv"
    write_dataset(source)
    result = cli(["bootstrap", "--from", str(source), *ISARCASM_ARGS, "--json"])
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["name"] == "mini"
    assert (summary["messages"], summary["sarcastic"], summary["pairs"]) == (6, 3, 3)
    assert summary["skipped_empty"] == 1
    assert "skipped 1 rows with empty text" in result.stderr
    active = active_models(cli.store_path)
    assert active["classifier"].version == summary["classifier"]
    assert active["generator"].version == summary["generator"]
    every = load_base_messages(cli.data_dir)  # seed plus the new rows
    # Fitted on the train split of seed plus the new rows; cross-validated over all of them.
    assert active["classifier"].metrics["n_train"] == len(train_messages(every)) > 400
    assert 0.0 < summary["cv_f1"] <= 1.0
    messages = (cli.data_dir / "base/mini.messages.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["label"] for line in messages.splitlines()] == [1, 1, 1, 0, 0, 0]
    generator = LocalGenerator.load(Path(active["generator"].artifact))
    assert "Oh wonderful, the zeppelin hangar flooded again" in generator.pool(
        "the zeppelin hangar flooded again", size=12
    )
    # A later classify uses the bootstrapped classifier.
    classified = cli(["classify"], stdin=b"the hangar flooded\n")
    assert summary["classifier"] in classified.stderr


def test_bootstrap_manifests_list_what_the_extended_pool_held(cli: Cli) -> None:
    async def activate_a_tuned_generator() -> None:
        store = SqliteStore(cli.store_path)
        await store.open()
        built = await asyncio.to_thread(build_from_base, cli.data_dir, "generator")
        held = Manifest(
            id=model_manifest_id(task="generator", version=built.version),
            kind="model",
            task="generator",
            record_ids=frozenset({"i-old"}),  # as if a tuning job had added approved pairs
            locations=(built.artifact,),
        )
        await register(store, built, promote=True, manifest=held)
        await store.close()

    async def manifests(summary: dict[str, str]) -> list[Manifest | None]:
        store = SqliteStore(cli.store_path)
        await store.open()
        found = [
            await store.get_manifest(model_manifest_id(task=task, version=summary[task]))
            for task in ("classifier", "generator")
        ]
        await store.close()
        return found

    asyncio.run(activate_a_tuned_generator())
    source = cli.workdir / "mini.csv"
    write_dataset(source)
    result = cli(["bootstrap", "--from", str(source), *ISARCASM_ARGS, "--json"])
    assert result.code == 0, result.stderr
    classifier, generator = asyncio.run(manifests(json.loads(result.stdout)))
    active = active_models(cli.store_path)
    assert classifier is not None
    assert (classifier.record_ids, classifier.locations) == (
        frozenset(),
        (active["classifier"].artifact,),
    )
    assert generator is not None  # its pool extends the tuned one, so it holds what that held
    assert (generator.record_ids, generator.locations) == (
        frozenset({"i-old"}),
        (active["generator"].artifact,),
    )


def test_bootstrap_jsonl_without_pairs(cli: Cli) -> None:
    source = cli.workdir / "extra.jsonl"
    lines = [{"text": t, "label": "sarcastic"} for t, _ in SARCASTIC]
    lines += [{"text": t, "label": "not_sarcastic"} for t in SINCERE]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    result = cli(["bootstrap", "--from", str(source), "--name", "my data!"])
    assert result.code == 0, result.stderr
    assert "as 'my-data'" in result.stdout
    assert (cli.data_dir / "base/my-data.messages.jsonl").is_file()
    assert not (cli.data_dir / "base/my-data.pairs.jsonl").exists()


BAD = [
    pytest.param(
        "data.csv",
        b"tweet,label\nhello,1\n",
        ["--text-col", "tweet", "--label-col", "sarcastic"],
        "{path}: no column 'sarcastic' (columns: 'tweet', 'label')",
        id="missing-column",
    ),
    pytest.param(
        "data.csv",
        b"text,label\nhello,1\nworld,maybe\n",
        [],
        "{path}: line 3: label 'maybe' is not 1/0, true/false or yes/no",
        id="bad-label",
    ),
    pytest.param(
        "data.csv",
        b"text,label\nhello,1\n" + b"x" * 40_000 + b",0\n",
        [],
        "{path}: line 3: text is 40,000 characters (limit 4,000)",
        id="too-long",
    ),
    pytest.param(
        "data.csv",
        b"text,label\nh\xe9llo,1\n",
        [],
        "{path}: invalid UTF-8 at byte offset 12",
        id="utf8",
    ),
    pytest.param(
        "data.jsonl",
        b'{"text": "a", "label": 1}\n{"text": "b"\n',
        [],
        "{path}: line 2: invalid JSON (Expecting ',' delimiter)",
        id="bad-json",
    ),
    pytest.param("data.csv", b"text,label\n,1\n", [], "{path}: no labelled texts", id="only-empty"),
]


@pytest.mark.parametrize(("name", "content", "args", "message"), BAD)
def test_bad_dataset_stops_before_any_write(
    cli: Cli, name: str, content: bytes, args: list[str], message: str
) -> None:
    source = cli.workdir / name
    source.write_bytes(content)
    result = cli(["bootstrap", "--from", str(source), *args])
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1] == "error: " + message.format(path=source)
    assert "Traceback" not in result.stderr
    assert not cli.store_path.exists()
    assert not cli.data_dir.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), ("0", 0), ("True", 1), ("no", 0), (" sarcastic ", 1), ("not_sarcastic", 0)],
)
def test_parse_label(value: str, expected: int) -> None:
    assert parse_label(value, source="f", line=2) == expected


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("../x/train.En.csv", None, "train"),
        ("a.jsonl", "my set", "my-set"),
        ("x.csv", "///", "dataset"),
    ],
)
def test_dataset_name(source: str, name: str | None, expected: str) -> None:
    assert dataset_name(source, name) == expected


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "text": st.text(max_size=30),
                "label": st.sampled_from(["1", "0", "yes", "nope", ""]),
                "rephrase": st.text(max_size=20),
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_jsonl_reader(records: list[dict[str, str]]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))
    error = None
    try:
        messages, pairs, empty = read_dataset(
            f.name, text_col="text", label_col="label", rephrase_col="rephrase"
        )
    except DatasetError as exc:
        error = str(exc)
    finally:
        Path(f.name).unlink()
    if error is not None:
        assert error.startswith(f.name)
        assert "\n" not in error
        return
    assert empty == sum(not r["text"].strip() for r in records)
    assert all(m.text == m.text.strip() and m.text for m in messages)
    assert all(m.label in (0, 1) for m in messages)
    # one pair at most per sarcastic row (rows repeating a text may carry different rephrases)
    assert len(pairs) <= sum(r["label"] in ("1", "yes") for r in records)


@pytest.mark.shared_data
def test_isarcasmeval_reads_as_texts_and_rephrase_pairs() -> None:
    if not SHARED_ISARCASM.is_file():
        pytest.skip(f"{SHARED_ISARCASM} is absent (../shared/data is not part of a clone)")
    messages, pairs, empty = read_dataset(
        str(SHARED_ISARCASM), text_col="tweet", label_col="sarcastic", rephrase_col="rephrase"
    )
    assert len(messages) > 3000
    assert 0.2 < sum(m.label for m in messages) / len(messages) < 0.3
    assert len(pairs) > 800
    assert empty >= 1
