"""The promotion rule: promote a candidate on a paired comparison with its uncertainty.

The rule, in order (the first that applies decides):

1. **Forced** (``--force``): promote; the reason still gives the evidence.
2. **Nothing active:** promote.
3. **Silences a channel:** keep. A channel is silenced when, on its held-out messages (at
   least ``min_channel_messages``), the active model flags at least ``min_flag_rate`` of them
   at the channel's threshold and the candidate flags less than ``silenced_share`` of what the
   active flags (``0.01`` where the active flags ``0.12``, say).
4. **Too few held-out items** (for the classifier fewer than ``min_channel_labels`` held-out
   channel labels, for the generator fewer than ``min_heldout_feedback`` held-out human ratings
   plus pairs): keep, with "not enough held-out feedback yet". The job succeeded; its candidate
   stays registered and can be promoted by hand.
5. **Not measurable** (the decision metric is NaN for the candidate): keep; an interval that
   could not be computed is "not enough held-out feedback yet" too.
6. **Better beyond noise:** the lower bound of the 95 % paired bootstrap interval of
   (candidate - active) is above 0: promote.
7. **Not worse, and more human feedback:** the lower bound is above ``-tolerance`` and the
   candidate learnt from more human feedback (train split) than the active model: promote.
8. Otherwise keep.

The decision metric (:data:`~tuning.evaluation.keys.DECISION_METRIC`) is measured on held-out
human feedback only. For the classifier it is F1 on the sarcastic class over the held-out
channel labels, each model flagging a message when it reaches its channel's threshold (as the
bot flags), so the interval is over those labels; base rows are reported but do not decide. For
the generator it is agreement with held-out human feedback (the mean of the reward AUC on 👍 vs
👎 replies and the pair accuracy on pairs).

>>> import dataclasses
>>> from tuning.evaluation.paired import Interval
>>> evidence = Evidence("classifier", "channel_f1", 0.70, 0.62, Interval(0.08, 0.02, 0.14, 60),
...                     40, 0)
>>> decide(evidence, has_active=True).reason
'channel_f1 0.700 vs active 0.620: better beyond noise (+0.080, 95% CI +0.020..+0.140, n=60)'
>>> decide(dataclasses.replace(evidence, interval=Interval(0.1, 0.0, 0.2, 12)),
...        has_active=True).reason
'not enough held-out feedback yet: 12 items, need 30'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tuning.evaluation.paired import Interval
from tuning.records import Task


@dataclass(frozen=True)
class Rule:
    """The thresholds of the promotion rule (see the module docstring)."""

    min_channel_labels: int = 30  # classifier: held-out channel labels
    min_heldout_feedback: int = 20  # generator: held-out human ratings plus pairs
    tolerance: float = 0.05  # how far below 0 the lower bound may be ("not worse")
    min_channel_messages: int = 10
    min_flag_rate: float = 0.05
    silenced_share: float = 0.2

    def __post_init__(self) -> None:
        if min(self.min_channel_labels, self.min_heldout_feedback, self.min_channel_messages) < 1:
            raise ValueError("the minimum sizes must be at least 1")
        if self.tolerance < 0 or not 0 < self.silenced_share <= 1:
            raise ValueError("tolerance must be >= 0 and silenced_share in (0, 1]")


@dataclass(frozen=True)
class Evidence:
    """What the paired comparison found: the metric, both values, the interval, the feedback."""

    task: Task
    metric: str
    candidate: float
    active: float
    interval: Interval
    candidate_feedback: int  # human feedback each model learnt from
    active_feedback: int
    silenced: tuple[str, ...] = ()  # channels the candidate would stop flagging


@dataclass(frozen=True)
class Decision:
    """Whether to promote a candidate, and the one-line reason.

    ``enough`` is False when there was too little held-out feedback to decide.
    """

    promote: bool
    reason: str
    enough: bool = True


def decide(
    evidence: Evidence, *, has_active: bool, rule: Rule | None = None, force: bool = False
) -> Decision:
    """Apply the promotion rule of this module's docstring to ``evidence``."""
    rule = rule or Rule()
    name, interval = evidence.metric, evidence.interval
    if not has_active:
        return Decision(True, f"no active model; {name} {evidence.candidate:.3f}")
    versus = f"{name} {evidence.candidate:.3f} vs active {evidence.active:.3f}"
    if force:
        return Decision(True, f"forced; {versus}")
    if evidence.silenced:
        return Decision(False, f"{versus}: would stop flagging in {', '.join(evidence.silenced)}")
    needed = rule.min_channel_labels if evidence.task == "classifier" else rule.min_heldout_feedback
    too_few = f"not enough held-out feedback yet: {interval.n} items, need {needed}"
    if interval.n < needed:
        return Decision(False, too_few, enough=False)
    if math.isnan(evidence.candidate):
        return Decision(False, f"{name} could not be measured")
    if math.isnan(interval.low):
        return Decision(False, too_few, enough=False)
    spread = (
        f"{interval.estimate:+.3f}, 95% CI {interval.low:+.3f}..{interval.high:+.3f}, "
        f"n={interval.n}"
    )
    if interval.low > 0:
        return Decision(True, f"{versus}: better beyond noise ({spread})")
    more = evidence.candidate_feedback > evidence.active_feedback
    if interval.low > -rule.tolerance and more:
        feedback = f"{evidence.candidate_feedback} vs {evidence.active_feedback} feedback"
        return Decision(True, f"{versus}: not worse, more human feedback ({spread}; {feedback})")
    return Decision(False, f"{versus}: {_why_kept(interval, more=more, rule=rule)} ({spread})")


def _why_kept(interval: Interval, *, more: bool, rule: Rule) -> str:
    """Return why a measurable candidate that is not better beyond noise is kept."""
    if interval.high < 0:
        return "worse beyond noise"
    if more:
        return f"more human feedback, but possibly worse by more than {rule.tolerance:g}"
    return "within noise, and no more human feedback than the active model"


def silenced_channels(
    candidate: Mapping[str, float],
    active: Mapping[str, float],
    counts: Mapping[str, int],
    rule: Rule | None = None,
) -> tuple[str, ...]:
    """Return the channels whose flags the candidate would (nearly) stop; see rule 3.

    >>> silenced_channels({"C1": 0.0, "C2": 0.1}, {"C1": 0.2, "C2": 0.1}, {"C1": 20, "C2": 20})
    ('C1',)
    """
    rule = rule or Rule()
    return tuple(
        sorted(
            channel
            for channel, theirs in active.items()
            if counts.get(channel, 0) >= rule.min_channel_messages
            and theirs >= rule.min_flag_rate
            and candidate.get(channel, 0.0) < rule.silenced_share * theirs
        )
    )
