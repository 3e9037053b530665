"""Print how much the bot learns from its users' reactions: the product's headline figure.

Simulated people with hidden, consistent tastes (:mod:`bench.learning_sim`) use the real bot in
the emulated Slack workspace, end to end over Slack's wire protocol, for several rounds; between
rounds the tuning loop runs as an operator runs it (``python -m tuning run``) and promotion
decides. Each experiment starts from a fresh store with the seed models:

* one per generator taste: a person mentions the bot with everyday complaints, rates every
  reply 👍/👎 by their taste, sometimes presses *Try again* (and rates that reply too), and
  submits a better reply when the bot offers a way to. Measured on held-out prompts (never
  asked in training) by an opted-out person, so measuring stores nothing: the share of replies
  that match the taste, paired against the start;
* the classifier: real labelled tweets (iSarcasmEval, ``../shared/data``) split in halves. One
  half is posted to #random, which explores (``/sarcasm explore 0.2``: a share of near misses
  gets a "sarcastic?" marker), and labelled by their authors (✅/❌ on flags and markers, the
  flag reaction on sarcastic messages the bot missed); the other half is held out and scored with
  ``python -m tuning classify``: F1 of the flags at the channel's threshold, F1 of the CLI's
  ``label`` (the model's own stored threshold), and ROC AUC, each with a paired bootstrap
  against the start. A candidate the promotion kept is scored on the same tweets, paired against
  the active model, so what the rule turned down shows too.

Targets (issue 10): taste share +0.15 after 200 reactions; >= 20 preference pairs from ordinary
use; flag F1 on held-out channel messages up >= 0.03 after 300 labelled reactions with its 95%
interval above 0; no promotion that made its model worse beyond noise (95% interval below 0).

Run: ``.venv/bin/python -m bench.bench_learning [--quick] [--json] [--png docs/learning_curves.png]
[--data PATH] [--explore SHARE]``. Seeds are fixed, but which near misses are explored hashes
each message's ts (wall-clock time in the emulated workspace), so the label counts, and the
classifier figures with them, vary a little from run to run. The numbers are those of today's
code, targets met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.views.replies import EXPLORE_REACTION
from bot.workspace import ALEX, YOU
from tuning.evaluation.metrics import roc_auc
from tuning.records import ChannelSettings

if __package__ in (None, ""):
    # `python bench/bench_learning.py` (how `make bench` runs scripts) puts bench/ on the path,
    # not the repo root that `bench.*` lives in.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.learning_report import (
    Curve,
    Point,
    classifier_summary,
    f1_target,
    harmful_promotions,
    job_summary,
    pair_target,
    render,
    save_png,
    taste_targets,
    to_json,
)
from bench.learning_session import GENERAL, RANDOM, Session
from bench.learning_sim import (
    TASTES,
    Offered,
    Prompt,
    Taste,
    build_prompts,
    label_message,
    react_to_reply,
)
from bench.learning_stats import count_pairs, f1_at, paired_bootstrap, paired_share
from bench.shared_data import ISARCASMEVAL, shared_data

SEED = 10
RATER, MEASURER = ALEX, YOU  # the measurer opts out, so measuring stores nothing
THRESHOLD = ChannelSettings(channel=RANDOM).threshold  # #random keeps the default threshold
POST_BATCH = 25
# #random's /sarcasm explore share: people see, and so label, only what the bot marks; marking
# some near misses "sarcastic?" lets ✅/❌ reach borderline messages the flags never show.
EXPLORE = 0.2


@dataclass(frozen=True)
class Plan:
    """How much to play: held-out and training prompts, checkpoints, held-out tweets."""

    held_out: int
    train: int
    checkpoints: tuple[int, ...]
    tweets_held_out: int | None  # None: the whole held-out half
    label_checkpoints: tuple[int, ...]


FULL = Plan(100, 200, (50, 100, 150, 200), None, (50, 100, 200, 300))
QUICK = Plan(30, 80, (25, 50), 400, (50, 100))


# -- generator --------------------------------------------------------------------------------
async def measure_taste(session: Session, taste: Taste, prompts: Sequence[Prompt]) -> list[bool]:
    """Return, per held-out prompt, whether the bot's reply matches ``taste``."""
    return [
        taste.matches(p, (await session.mention(user=MEASURER, text=p.text)).text) for p in prompts
    ]


@dataclass
class Tally:
    """What people did in one experiment so far."""

    reactions: int = 0
    retries: int = 0
    same_on_retry: int = 0  # *Try again* answered with the text already shown
    corrections: int = 0


async def play_prompt(
    session: Session,
    taste: Taste,
    prompt: Prompt,
    rng: random.Random,
    rated: list[tuple[str, int]],
    tally: Tally,
) -> None:
    """Mention the bot with ``prompt`` and react as the person would, counting it in ``tally``."""
    shown = await session.mention(user=RATER, text=prompt.text)
    retries = 0
    while True:
        offered = Offered(try_again=shown.try_again)
        act = react_to_reply(taste, prompt, shown.text, offered=offered, retries=retries, rng=rng)
        emoji = "+1" if act.rating > 0 else "-1"
        await session.react(user=RATER, channel=GENERAL, ts=shown.ts, name=emoji)
        rated.append((shown.text, act.rating))
        tally.reactions += 1
        if act.correction is not None and act.rating < 0:
            tally.corrections += await session.suggest_better(user=RATER, text=act.correction)
        if not act.try_again:
            return
        again = await session.try_again(user=RATER, reply=shown)
        if again is None:
            return
        tally.retries += 1
        tally.same_on_retry += any(again.text == text for text, _ in rated)
        shown, retries = again, retries + 1


async def generator_experiment(taste: Taste, plan: Plan, root: Path) -> Curve:
    """Run one taste's experiment and return its curve of held-out taste share."""
    prompts = build_prompts(plan.held_out + plan.train, seed=SEED)
    held, train = prompts[: plan.held_out], list(prompts[plan.held_out :])
    rng = random.Random(SEED)
    curve = Curve(name=taste.name, metric=f"share of held-out replies {taste.description}")
    session = await Session.start(root)
    try:
        await session.command(user=MEASURER, text="optout")
        start = previous = await measure_taste(session, taste, held)
        curve.points.append(Point(0, sum(start) / len(start), extra={"pairs_by_users": 0}))
        rated: dict[str, list[tuple[str, int]]] = {}
        tally = Tally()
        for checkpoint in plan.checkpoints:
            while tally.reactions < checkpoint and train:
                prompt = train.pop(0)
                await play_prompt(
                    session, taste, prompt, rng, rated.setdefault(prompt.text, []), tally
                )
            await session.idle()
            jobs = [
                job_summary(await session.run_job("generator", m)) for m in ("sft", "preference")
            ]
            now = await measure_taste(session, taste, held)
            curve.points.append(
                Point(
                    tally.reactions,
                    sum(now) / len(now),
                    vs_start=paired_share(start, now),
                    vs_previous=paired_share(previous, now),
                    extra={
                        "pairs_by_users": count_pairs(rated),
                        "pairs_in_job": jobs[1]["examples"],
                        "retries": tally.retries,
                        "same_on_retry": tally.same_on_retry,
                        "corrections": tally.corrections,
                    },
                    jobs=jobs,
                )
            )
            previous = now
    finally:
        await session.stop()
    return curve


# -- classifier -------------------------------------------------------------------------------
def load_tweets(path: Path) -> list[tuple[str, int]]:
    """Return (one-line text, label) per non-empty tweet of the iSarcasmEval CSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(" ".join(r["tweet"].split()), int(r["sarcastic"])) for r in csv.DictReader(handle)]
    return [(text, label) for text, label in rows if text]


def flag_f1(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Return F1 of the flags the bot would raise at the channel's threshold."""
    return f1_at(labels, scores, THRESHOLD)


def label_f1(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Return F1 of 0/1 scores: the CLI's ``label``, at the model's own stored threshold."""
    return f1_at(labels, scores, 0.5)


async def score(session: Session, texts: list[str]) -> tuple[list[float], list[float]]:
    """Return the active classifier's probabilities and 0/1 labels for ``texts``."""
    lines = await session.classify(texts)
    return [float(x["probability"]) for x in lines], [
        float(x["label"] == "sarcastic") for x in lines
    ]


async def classifier_experiment(
    plan: Plan, root: Path, data: Path, *, explore: float = EXPLORE
) -> Curve:
    """Run the classifier experiment and return its curve of held-out flag F1."""
    curve = Curve(
        name="classifier",
        metric=f"flag F1 at the channel threshold {THRESHOLD} (explore {explore:g})",
    )
    if not await asyncio.to_thread(data.is_file):
        curve.note = f"skipped: {data} not found (it lives in ../shared/data, not in the repo)"
        return curve
    tweets = await asyncio.to_thread(load_tweets, data)
    random.Random(SEED).shuffle(tweets)
    half = len(tweets) // 2
    train, held = tweets[:half], tweets[half:][: plan.tweets_held_out]
    texts, labels = [t for t, _ in held], [y for _, y in held]
    rng = random.Random(SEED)
    session = await Session.start(root)
    try:
        if explore:
            await session.command(user=MEASURER, channel=RANDOM, text=f"explore {explore:g}")
        start, start_labels = await score(session, texts)
        previous = start
        seed = _scores(labels, start, start_labels)
        seed["threshold"] = await _active_threshold(session)
        # The floor label F1 must beat: every held-out tweet labelled sarcastic.
        seed["all_sarcastic_f1"] = label_f1(labels, [1.0] * len(labels))
        curve.points.append(Point(0, flag_f1(labels, start), extra=seed))
        labelled = posted = flags = explored = 0
        flag_reaction: str | None = None  # people learn it from the bot's flags
        for checkpoint in plan.label_checkpoints:
            while labelled < checkpoint and posted < len(train):
                batch = train[posted : posted + POST_BATCH]
                posted += len(batch)
                stamps = [await session.post(user=RATER, channel=RANDOM, text=t) for t, _ in batch]
                await session.idle()
                for ts, (_, sarcastic) in zip(stamps, batch, strict=True):
                    flag = session.bot_reaction(RANDOM, ts)
                    if flag == EXPLORE_REACTION:  # "sarcastic?": answered like a flag
                        explored += 1
                    elif flag is not None:
                        flag_reaction, flags = flag, flags + 1
                    label = label_message(
                        sarcastic=bool(sarcastic),
                        flagged=flag is not None,
                        flag_reaction=flag_reaction or "",
                        rng=rng,
                    )
                    if label.reaction:
                        await session.react(user=RATER, channel=RANDOM, ts=ts, name=label.reaction)
                        labelled += 1
            await session.idle()
            job = await session.run_job("classifier", "sft")
            jobs = [job_summary(job)]
            now, now_labels = await score(session, texts)
            extra = _scores(labels, now, now_labels)
            extra["threshold"] = await _active_threshold(session)
            extra.update(
                posted=posted,
                flag_rate_in_training=flags / posted,
                explored_in_training=explored / posted,
                label_f1_vs_start=asdict(
                    paired_bootstrap(labels, start_labels, now_labels, label_f1, seed=SEED)
                ),
                auc_vs_start=asdict(paired_bootstrap(labels, start, now, roc_auc, seed=SEED)),
            )
            kept = job.get("candidate_version") if job.get("outcome") != "promoted" else None
            if kept:
                extra["kept_candidate"] = await _versus_active(
                    session, str(kept), texts, labels, (now, now_labels)
                )
            curve.points.append(
                Point(
                    labelled,
                    flag_f1(labels, now),
                    vs_start=paired_bootstrap(labels, start, now, flag_f1, seed=SEED),
                    vs_previous=paired_bootstrap(labels, previous, now, flag_f1, seed=SEED),
                    extra=extra,
                    jobs=jobs,
                )
            )
            previous = now
    finally:
        await session.stop()
    return curve


async def _active_threshold(session: Session) -> float:
    """Return the decision threshold stored with the active classifier (``label`` uses it)."""
    return float((await session.classifier_version()).metrics.get("threshold", math.nan))


async def _versus_active(
    session: Session,
    version: str,
    texts: list[str],
    labels: list[int],
    active: tuple[list[float], list[float]],
) -> dict[str, Any]:
    """Return what a kept candidate scores on the held-out tweets, paired against the active."""
    model = await session.classifier_version(version)
    predictions = await session.predict_with(model, texts)
    probs = [p.probability for p in predictions]
    cli_labels = [float(p.label == "sarcastic") for p in predictions]
    found = _scores(labels, probs, cli_labels)
    found.update(
        threshold=float(model.metrics.get("threshold", math.nan)),
        calibrated_on_channel=bool(model.metrics.get("calibrated_on_channel")),
        label_f1_vs_active=asdict(
            paired_bootstrap(labels, active[1], cli_labels, label_f1, seed=SEED)
        ),
        auc_vs_active=asdict(paired_bootstrap(labels, active[0], probs, roc_auc, seed=SEED)),
    )
    return found


def _scores(labels: list[int], probs: list[float], cli_labels: list[float]) -> dict[str, Any]:
    return {
        "label_f1": label_f1(labels, cli_labels),
        "labelled": sum(cli_labels) / len(cli_labels),  # share the CLI labels sarcastic
        "roc_auc": roc_auc(labels, probs),
        "flagged": sum(p >= THRESHOLD for p in probs) / len(probs),
        "held_out": len(labels),
    }


# -- the run ----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts and rounds (~2 min)")
    parser.add_argument("--json", action="store_true", help="print the curves as JSON")
    parser.add_argument("--png", type=Path, metavar="PATH", help="save the curves as a PNG")
    parser.add_argument(
        "--data",
        type=Path,
        help="iSarcasmEval train.En.csv (default: ../shared/data beside the repo or a worktree)",
    )
    parser.add_argument("--tastes", default=",".join(TASTES), help="comma-separated taste names")
    parser.add_argument(
        "--explore",
        type=float,
        default=EXPLORE,
        help="#random's /sarcasm explore share (0: people label only flags and misses)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Curve]:
    """Run every experiment, each on a fresh store, and return the curves."""
    plan = QUICK if args.quick else FULL
    curves = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in filter(None, args.tastes.split(",")):  # --tastes '': the classifier only
            started = time.perf_counter()
            curves.append(await generator_experiment(TASTES[name], plan, Path(tmp) / name))
            _progress(f"taste {name}: {time.perf_counter() - started:.0f}s")
        started = time.perf_counter()
        curves.append(
            await classifier_experiment(
                plan, Path(tmp) / "classifier", args.data, explore=args.explore
            )
        )
        _progress(f"classifier: {time.perf_counter() - started:.0f}s")
    return curves


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiments and print the curves, the targets and where they fall short."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.data is None:
        args.data = shared_data(ISARCASMEVAL)
    curves = asyncio.run(run(args))
    tastes = [c for c in curves if c.name != "classifier"]
    targets = [
        *taste_targets(tastes, at=plan.checkpoints[-1]),
        pair_target(tastes),
        f1_target(curves[-1], at=plan.label_checkpoints[-1]),
    ]
    harmful = harmful_promotions(curves)
    classifier = classifier_summary(curves[-1], at=plan.label_checkpoints[-1])
    if args.png:
        save_png(curves, args.png)
    if args.json:
        print(json.dumps(to_json(curves, targets, harmful, classifier), indent=1, default=str))
        return 0
    mode = "quick" if args.quick else "full"
    print(f"learning benchmark ({mode}; seed {SEED}; baselines measured in this run)")
    for curve in curves:
        print("\n".join(render(curve)))
    print("targets:")
    for target in targets:
        print(f"   {'met   ' if target.met else 'MISSED'} {target.what}: {target.got}")
    verdict = "; ".join(harmful) if harmful else "none"
    print(f"   {'MISSED' if harmful else 'met   '} no promotion worse beyond noise: {verdict}")
    print(f"beside the targets, the classifier: {classifier}")
    if args.png:
        print(f"curves saved to {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
