"""``python -m tuning bootstrap --from PATH``: add a public dataset to the base data and retrain.

The file (CSV, or JSON lines for ``.jsonl``) is checked completely first. Then the classifier is
retrained on seed plus every bootstrapped dataset, the generator gains the literal-to-sarcastic
pairs from the rephrase column, both are saved, the dataset is stored under ``DATA_DIR/base``,
and the new versions are registered and promoted. Any bad input stops before the first write.
Both models learn only from the train split (rows the datasets hash into validation are left
for evaluating tuning jobs); the reported ``cv_f1`` is cross-validated over all the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

from tqdm import tqdm

from tuning.config import Settings
from tuning.datasets.basedata import (
    LabelledMessage,
    ReplyPair,
    dedupe_messages,
    dedupe_pairs,
    load_base_messages,
    load_base_pairs,
    save_bootstrapped,
)
from tuning.datasets.inputs import check_text, read_source, table_rows
from tuning.errors import DatasetError
from tuning.models.builders import (
    build_classifier,
    build_generator,
    register,
    train_messages,
    train_pairs,
)
from tuning.models.local_generator import LocalGenerator
from tuning.models.reward import RewardModel
from tuning.privacy.manifests import model_manifest
from tuning.records import Manifest, model_manifest_id
from tuning.store import Store, open_store

HELP = "Add a public sarcasm dataset (CSV or JSONL) to the base data and retrain the local models."
TRUE = frozenset({"1", "true", "yes", "sarcastic", "y", "t"})
FALSE = frozenset({"0", "false", "no", "not_sarcastic", "n", "f"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bootstrap options."""
    parser.add_argument("--from", dest="source", required=True, metavar="PATH")
    parser.add_argument("--text-col", default="text", metavar="NAME", help="default: text")
    parser.add_argument("--label-col", default="label", metavar="NAME", help="default: label")
    parser.add_argument(
        "--rephrase-col",
        metavar="NAME",
        help="literal rephrase of a sarcastic text; makes (rephrase -> text) generator pairs",
    )
    parser.add_argument("--name", help="dataset name under DATA_DIR/base (default: file name)")


def parse_label(value: str, *, source: str, line: int) -> int:
    """Return 1 or 0 for a label cell, or raise DatasetError naming the line."""
    word = value.strip().lower()
    if word in TRUE:
        return 1
    if word in FALSE:
        return 0
    raise DatasetError(f"{source}: line {line}: label {value!r} is not 1/0, true/false or yes/no")


def read_dataset(
    source: str, *, text_col: str, label_col: str, rephrase_col: str | None
) -> tuple[list[LabelledMessage], list[ReplyPair], int]:
    """Return the labelled texts, the rephrase pairs and how many empty texts were skipped."""
    name, text = read_source(source)
    columns = [text_col, label_col] + ([rephrase_col] if rephrase_col else [])
    messages, pairs, empty = [], [], 0
    for row in table_rows(name, text, columns=columns):
        if not row.fields[text_col].strip():
            empty += 1  # public datasets have a few blank rows; they carry no signal
            continue
        message = check_text(row.fields[text_col], source=name, line=row.line)
        label = parse_label(row.fields[label_col], source=name, line=row.line)
        messages.append(LabelledMessage(message, label))
        literal = row.fields[rephrase_col].strip() if rephrase_col else ""
        if label == 1 and literal:
            pairs.append(ReplyPair(check_text(literal, source=name, line=row.line), message))
    if not messages:
        raise DatasetError(f"{name}: no labelled texts")
    return dedupe_messages(messages), dedupe_pairs(pairs), empty


async def _current_pairs(
    store: Store, data_dir: Path
) -> tuple[list[ReplyPair], RewardModel | None]:
    """Return the active local generator's pairs and reward (feedback kept), else base pairs."""
    active = await store.active_model(task="generator")
    if active is not None and active.backend == "local":
        current = await asyncio.to_thread(LocalGenerator.load, Path(active.artifact))
        return current.pairs, current.reward
    return await asyncio.to_thread(load_base_pairs, data_dir), None


async def _active_manifest(store: Store) -> Manifest | None:
    """Return the manifest of the active generator, or None."""
    active = await store.active_model(task="generator")
    if active is None:
        return None
    return await store.get_manifest(model_manifest_id(task="generator", version=active.version))


def dataset_name(source: str, name: str | None) -> str:
    """Return a file-safe dataset name from ``--name`` or the source file name."""
    raw = name or Path(source).name.split(".")[0] or "dataset"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-") or "dataset"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the dataset, retrain, save, then register and promote the new versions."""
    messages, pairs, empty = await asyncio.to_thread(
        read_dataset,
        args.source,
        text_col=args.text_col,
        label_col=args.label_col,
        rephrase_col=args.rephrase_col,
    )
    if empty:
        print(f"warning: {args.source}: skipped {empty} rows with empty text", file=sys.stderr)
    name = dataset_name(args.source, args.name)
    data_dir = settings.data_dir
    # Open the store first: fail on a bad one before training.
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        steps = 3 if pairs else 2
        with tqdm(total=steps, desc="bootstrap", file=sys.stderr, disable=None) as bar:
            bar.set_postfix_str("training classifier")
            base = await asyncio.to_thread(load_base_messages, data_dir)
            every = dedupe_messages([*base, *messages])
            classifier = await asyncio.to_thread(
                build_classifier, data_dir, train_messages(every), cv_on=every
            )
            bar.update()
            generator = None
            if pairs:
                bar.set_postfix_str("building generator")
                current, reward = await _current_pairs(store, data_dir)
                pool = train_pairs(dedupe_pairs([*current, *pairs]))
                generator = await asyncio.to_thread(build_generator, data_dir, pool, reward=reward)
                bar.update()
            bar.set_postfix_str("registering")
            await asyncio.to_thread(
                save_bootstrapped, data_dir, name=name, messages=messages, pairs=pairs
            )
            await register(store, classifier, promote=True)
            if generator is not None:
                # Its pool extends the active generator's, and so holds what that one held.
                manifest = model_manifest(
                    generator, dataset=None, base=await _active_manifest(store), now=store.clock()
                )
                await register(store, generator, promote=True, manifest=manifest)
            bar.update()
    finally:
        await store.close()
    summary = {
        "name": name,
        "messages": len(messages),
        "sarcastic": sum(m.label for m in messages),
        "pairs": len(pairs),
        "skipped_empty": empty,
        "classifier": classifier.version,
        "cv_f1": round(classifier.metrics.get("cv_f1", float("nan")), 4),
        "generator": generator.version if generator else None,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"added {summary['messages']} texts ({summary['sarcastic']} sarcastic) and "
            f"{summary['pairs']} pairs as {name!r}; promoted classifier {classifier.version} "
            f"(cv F1 {summary['cv_f1']})"
            + (f" and generator {generator.version}" if generator else "")
        )
    return 0
