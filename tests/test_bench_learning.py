"""The pure parts of bench/bench_learning.py: tastes, people's behaviour, curve arithmetic.

The benchmark itself prints figures and is never run here; these keep its judgement honest.
"""

from __future__ import annotations

import doctest
import math
import random

import pytest

from bench import learning_report, learning_sim, learning_stats, shared_data
from bench.learning_report import (
    Curve,
    Point,
    classifier_summary,
    f1_target,
    harmful_promotions,
    pair_target,
    render,
)
from bench.learning_sim import (
    QUESTION,
    SHORT_TOPICAL,
    Behaviour,
    Offered,
    Prompt,
    build_prompts,
    label_message,
    react_to_reply,
)
from bench.learning_stats import PairedDiff, count_pairs, f1_at, paired_bootstrap, paired_share
from tuning.evaluation.metrics import classifier_metrics

PRINTER = Prompt("The printer jammed again.", topic="printer")


@pytest.mark.parametrize("module", [learning_sim, learning_stats, learning_report, shared_data])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    ("taste", "reply", "liked"),
    [
        (SHORT_TOPICAL, "Ah, the printer. Reliable as ever.", True),
        (SHORT_TOPICAL, "Printers everywhere rejoice.", True),  # the plural names it too
        (SHORT_TOPICAL, "Ah, technology. Reliable as ever.", False),  # no topic
        (SHORT_TOPICAL, "The printer " + "really " * 12 + "loves you.", False),  # too long
        (SHORT_TOPICAL, "Reprinter stuff.", False),  # a word containing it is not it
        (QUESTION, "Did you try turning it off?", True),
        (QUESTION, "Did you try turning it off?*", True),  # mrkdwn around the end
        (QUESTION, "Turn it off.", False),
    ],
)
def test_tastes(taste, reply, liked):
    assert taste.matches(PRINTER, reply) is liked


@pytest.mark.parametrize("taste", [SHORT_TOPICAL, QUESTION])
def test_a_persons_own_correction_matches_their_taste(taste):
    for prompt in build_prompts(40, seed=1):
        assert taste.matches(prompt, taste.write(prompt))


def test_prompts_are_distinct_reproducible_and_name_their_topic():
    prompts = build_prompts(300, seed=10)
    assert len({p.text for p in prompts}) == 300
    assert prompts == build_prompts(300, seed=10)
    assert all(p.topic in p.text.lower() for p in prompts)
    with pytest.raises(ValueError, match="distinct prompts"):
        build_prompts(10_000, seed=10)


def test_people_rate_by_taste_and_retry_only_when_offered():
    always = Behaviour(retry_if_disliked=1.0, retry_if_liked=0.0, correct_if_disliked=1.0)
    rng = random.Random(0)
    disliked = react_to_reply(
        QUESTION, PRINTER, "Fine.", offered=Offered(try_again=True), retries=0, rng=rng,
        behaviour=always,
    )  # fmt: skip
    assert (disliked.rating, disliked.try_again) == (-1, True)
    assert disliked.correction is not None
    assert QUESTION.matches(PRINTER, disliked.correction)
    no_button = react_to_reply(
        QUESTION, PRINTER, "Fine.", offered=Offered(), retries=0, rng=rng, behaviour=always
    )
    assert not no_button.try_again
    enough = react_to_reply(
        QUESTION, PRINTER, "Fine.", offered=Offered(True), retries=2, rng=rng, behaviour=always
    )
    assert not enough.try_again
    liked = react_to_reply(
        QUESTION, PRINTER, "Fine?", offered=Offered(True), retries=0, rng=rng, behaviour=always
    )
    assert (liked.rating, liked.try_again, liked.correction) == (1, False, None)


@pytest.mark.parametrize(
    ("sarcastic", "flagged", "reaction"),
    [(True, True, "white_check_mark"), (False, True, "x"), (True, False, "upside_down_face"),
     (False, False, None)],
)  # fmt: skip
def test_labels(sarcastic, flagged, reaction):
    every = Behaviour(mark_missed=1.0)
    label = label_message(
        sarcastic=sarcastic, flagged=flagged, flag_reaction="upside_down_face",
        rng=random.Random(0), behaviour=every,
    )  # fmt: skip
    assert label.reaction == reaction


def test_paired_share_is_the_mean_difference_with_its_standard_error():
    d = paired_share([False] * 10, [True] * 5 + [False] * 5)
    assert d.diff == 0.5
    assert d.se == pytest.approx(math.sqrt(0.25 * 10 / 9 / 10))
    assert d.beyond_noise
    assert not d.worse_beyond_noise
    same = paired_share([True, False], [True, False])
    assert (same.diff, same.se) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same"):
        paired_share([True], [True, False])


def test_f1_at_agrees_with_the_tuning_metrics():
    rng = random.Random(3)
    labels = [rng.randint(0, 1) for _ in range(200)]
    scores = [rng.random() for _ in range(200)]
    for threshold in (0.2, 0.5, 0.8, 1.1):
        want = classifier_metrics(labels, scores, threshold=threshold)["f1"]
        assert f1_at(labels, scores, threshold) == pytest.approx(want)


def test_paired_bootstrap_sees_a_real_gain_and_no_gain():
    labels = [1, 0] * 100
    start = [0.5] * 200
    better = [0.9 if y else 0.1 for y in labels]
    gain = paired_bootstrap(labels, start, better, lambda y, s: f1_at(y, s, 0.8), seed=1)
    assert gain.diff == 1.0
    assert gain.beyond_noise
    none = paired_bootstrap(labels, start, start, lambda y, s: f1_at(y, s, 0.8), seed=1)
    assert (none.diff, none.se, none.low, none.high) == (0.0, 0.0, 0.0, 0.0)


def test_pairs_follow_the_bots_rule():
    assert count_pairs({"p": [("a", 1), ("a", 1)]}) == 0  # the same text twice is no pair
    assert count_pairs({"p": [("a", 1), ("b", -1), ("c", -1)], "q": [("a", -1)]}) == 2
    assert count_pairs({"p": [("a", 1), ("b", 1)]}) == 0  # equal ratings: no preference


def _point(reactions, diff, *, promoted, worse=False, examples=None):
    high = -0.01 if worse else diff + 0.1
    d = PairedDiff(diff, 0.05, diff - 0.1, high)
    jobs = [{"outcome": "promoted" if promoted else "kept"}]
    return Point(reactions, 0.5, vs_start=d, vs_previous=d, jobs=jobs,
                 extra={"pairs_in_job": examples})  # fmt: skip


def test_targets_and_harmful_promotions():
    curve = Curve("c", "f1", [Point(0, 0.3), _point(300, 0.05, promoted=True)])
    assert not f1_target(curve, at=300).met  # +0.05 but its interval includes 0
    curve.points[1].vs_start = PairedDiff(0.05, 0.01, 0.03, 0.07)
    assert f1_target(curve, at=300).met
    assert harmful_promotions([curve]) == []
    worse = Curve("t", "share", [Point(0, 0.5), _point(50, -0.2, promoted=True, worse=True)])
    kept = Curve("u", "share", [Point(0, 0.5), _point(50, -0.2, promoted=False, worse=True)])
    assert harmful_promotions([worse, kept]) == ["t round ending at 50: -0.200"]
    pairs = Curve("p", "share", [Point(0, 0.5), _point(50, 0.0, promoted=False, examples=21)])
    assert pair_target([pairs]).met
    assert not pair_target([worse]).met
    assert f1_target(Curve("x", "f1", note="skipped: no data"), at=300).got == "skipped: no data"


def test_the_classifier_round_shows_label_f1_auc_and_the_kept_candidate_with_their_ses():
    gain = {"diff": 0.04, "se": 0.012, "low": 0.016, "high": 0.064}
    kept = {"label_f1": 0.41, "roc_auc": 0.6, "label_f1_vs_active": gain}
    extra = {"label_f1": 0.42, "label_f1_vs_start": gain, "roc_auc": 0.61, "auc_vs_start": gain,
             "kept_candidate": kept}  # fmt: skip
    curve = Curve("classifier", "flag F1", [Point(0, 0.2), Point(300, 0.2, extra=extra)])
    row, candidate = render(curve)[3], render(curve)[-1]
    assert "label_f1 0.420, label_f1_vs_start +0.040 (SE 0.012)" in row
    assert "auc_vs_start +0.040 (SE 0.012)" in row
    want = "kept candidate: label_f1 0.410, roc_auc 0.600, label_f1_vs_active +0.040 (SE 0.012)"
    assert candidate.strip() == want
    assert classifier_summary(curve, at=300).startswith("label F1 at the model threshold 0.420")
    assert classifier_summary(Curve("classifier", "f1", note="skipped: x"), at=300) == "skipped: x"


def test_shared_data_is_found_beside_a_checkout_and_above_a_worktree(tmp_path):
    csv = tmp_path / "shared/data/isarcasmeval/train.En.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("tweet,sarcastic\n", encoding="utf-8")
    for root in (tmp_path / "main", tmp_path / "wt/clf10b"):
        assert shared_data.shared_data("isarcasmeval/train.En.csv", root=root) == csv
    missing = shared_data.shared_data("mustard/x.json", root=tmp_path / "wt/clf10b")
    assert missing == tmp_path / "wt/shared/data/mustard/x.json"
