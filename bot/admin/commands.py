"""Parse `/sarcasm` text into typed commands; bad text raises :class:`UsageError`, nothing else.

The parser is pure: it knows nothing of Slack, the store or who is asking. Subcommand words are
case-insensitive; a model version is kept exactly as typed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

from bot.views.replies import EXPLORE_REACTION
from tuning.errors import SarcasmError
from tuning.records import MAX_EXPLORE, TASKS, ChannelMode, Method, Task

MODES: tuple[ChannelMode, ...] = get_args(ChannelMode)
# Slack caps slash-command text at 4,000 characters; anything longer is not ours to parse.
MAX_TEXT = 4000

# Slack retrains with SFT or preference only: reinforcement tuning spends money on Vertex AI and
# needs the reward scorer deployed, so it is launched from the CLI or the scheduler's AUC gate.
RETRAIN_METHODS: tuple[Method, ...] = ("sft", "preference")


@dataclass(frozen=True)
class Help:
    """Show usage, for every subcommand or one."""

    topic: str | None = None


@dataclass(frozen=True)
class Status:
    """Show the active models, any running job and feedback since the last job."""


@dataclass(frozen=True)
class Jobs:
    """List the last 10 jobs."""


@dataclass(frozen=True)
class Stats:
    """Upload the feedback and metrics chart with a text summary."""


@dataclass(frozen=True)
class OptOut:
    """Stop flagging and storing the caller's messages."""


@dataclass(frozen=True)
class OptIn:
    """Undo an opt-out."""


@dataclass(frozen=True)
class ForgetMe:
    """Ask to delete the caller's stored messages and feedback (confirmed by a button)."""


@dataclass(frozen=True)
class Retrain:
    """Launch a tuning job now; ``force`` promotes after evaluation even without the margin."""

    task: Task
    method: Method = "sft"
    force: bool = False


@dataclass(frozen=True)
class Promote:
    """Make a registered version active; ``task`` is None when the user did not say which."""

    version: str
    task: Task | None = None


@dataclass(frozen=True)
class Rollback:
    """Reactivate the previous version of a task."""

    task: Task


@dataclass(frozen=True)
class Threshold:
    """Set the current channel's flagging threshold."""

    value: float


@dataclass(frozen=True)
class Mode:
    """Set the current channel's flagging mode."""

    mode: ChannelMode


@dataclass(frozen=True)
class Explore:
    """Set the share (0..0.2) of messages just under the threshold that get a "sarcastic?" mark."""

    share: float


Command = (
    Help
    | Status
    | Jobs
    | Stats
    | OptOut
    | OptIn
    | ForgetMe
    | Retrain
    | Promote
    | Rollback
    | Threshold
    | Mode
    | Explore
)

USAGE: dict[str, str] = {
    "help": "`/sarcasm help [SUBCOMMAND]`: show this usage",
    "status": "`/sarcasm status`: active models, the running job, feedback since the last job",
    "retrain": "`/sarcasm retrain classifier|generator [sft|preference] [force]`: tune now",
    "jobs": "`/sarcasm jobs`: the last 10 tuning jobs",
    "promote": "`/sarcasm promote [classifier|generator] VERSION`: make a version active",
    "rollback": "`/sarcasm rollback classifier|generator`: reactivate the previous version",
    "threshold": "`/sarcasm threshold 0..1`: flag in this channel at or above this score",
    "mode": "`/sarcasm mode react|reply|off`: how this channel's flags look",
    "explore": f"`/sarcasm explore 0..{MAX_EXPLORE:g}`: mark this share of near misses "
    f"with :{EXPLORE_REACTION}: for ✅/❌",
    "stats": "`/sarcasm stats`: a chart of feedback and model metrics",
    "optout": "`/sarcasm optout`: never flag or store your messages",
    "optin": "`/sarcasm optin`: undo `optout`",
    "forget-me": "`/sarcasm forget-me`: delete your messages and feedback, and every copy of them",
}
ADMIN_SUBCOMMANDS = frozenset({"retrain", "promote", "rollback", "threshold", "mode", "explore"})
_ALIASES = {
    "forgetme": "forget-me",
    "forget_me": "forget-me",
    "opt-out": "optout",
    "opt-in": "optin",
    "?": "help",
}


class UsageError(SarcasmError):
    """The command text is not a valid `/sarcasm` command; ``usage`` says what is."""

    def __init__(self, message: str, *, subcommand: str | None = None) -> None:
        super().__init__(message)
        self.subcommand = subcommand

    @property
    def usage(self) -> str:
        """Return the usage lines to show with the error."""
        if self.subcommand in USAGE:
            return usage_line(self.subcommand)
        return "\n".join(usage_line(name) for name in USAGE)


def help_lines(topic: str | None = None) -> list[str]:
    """Return the usage line of ``topic``, or of every subcommand when it is None."""
    return [usage_line(topic)] if topic is not None else [usage_line(name) for name in USAGE]


def usage_line(name: str) -> str:
    """Return one subcommand's usage, marked when only admins may run it."""
    return USAGE[name] + (" _(admins)_" if name in ADMIN_SUBCOMMANDS else "")


def subcommand_of(command: Command) -> str:
    """Return the subcommand word a parsed command came from."""
    return _NAMES[type(command)]


def parse_command(text: str) -> Command:
    """Parse the text after `/sarcasm`; raise UsageError for anything that is not a command."""
    if len(text) > MAX_TEXT:
        raise UsageError("That command is too long.")
    words = text.split()
    if not words:
        return Help()
    name = words[0].lower()
    name = _ALIASES.get(name, name)
    args = words[1:]
    if name not in USAGE:
        shown = words[0] if len(words[0]) <= 40 else words[0][:40] + "…"
        raise UsageError(f"Unknown subcommand `{shown}`.")
    if name == "help":
        return _parse_help(args)
    if name in _NO_ARGS:
        _expect_no_args(name, args)
        return _NO_ARGS[name]
    return _PARSERS[name](args)


def _expect_no_args(name: str, args: list[str]) -> None:
    if args:
        raise UsageError(f"`{name}` takes no arguments.", subcommand=name)


def _parse_help(args: list[str]) -> Help:
    if not args:
        return Help()
    topic = _ALIASES.get(args[0].lower(), args[0].lower())
    if len(args) > 1 or topic not in USAGE:
        raise UsageError("`help` takes one subcommand name, or nothing.", subcommand="help")
    return Help(topic=topic)


def _task(word: str, name: str) -> Task:
    lowered = word.lower()
    for task in TASKS:
        if lowered == task:
            return task
    raise UsageError(f"`{_clip(word)}` is not classifier or generator.", subcommand=name)


def _parse_retrain(args: list[str]) -> Retrain:
    if not args:
        raise UsageError("Say which model to retrain.", subcommand="retrain")
    task = _task(args[0], "retrain")
    method: Method = "sft"
    force = False
    seen_method = False
    for word in (w.lower() for w in args[1:]):
        if word == "force" and not force:
            force = True
        elif word in RETRAIN_METHODS and not seen_method:
            method = next(m for m in RETRAIN_METHODS if m == word)
            seen_method = True
        else:
            raise UsageError(f"Unexpected `{_clip(word)}`.", subcommand="retrain")
    return Retrain(task=task, method=method, force=force)


def _parse_promote(args: list[str]) -> Promote:
    if len(args) == 1:
        return Promote(version=args[0])
    if len(args) == 2:
        return Promote(version=args[1], task=_task(args[0], "promote"))
    raise UsageError("Say which version to promote.", subcommand="promote")


def _parse_rollback(args: list[str]) -> Rollback:
    if len(args) != 1:
        raise UsageError("Say which model to roll back.", subcommand="rollback")
    return Rollback(task=_task(args[0], "rollback"))


def _parse_threshold(args: list[str]) -> Threshold:
    return Threshold(value=_share(args, "threshold", high=1.0))


def _parse_explore(args: list[str]) -> Explore:
    return Explore(share=_share(args, "explore", high=MAX_EXPLORE))


def _share(args: list[str], name: str, *, high: float) -> float:
    """Return the one number (or percentage) in ``args``, from 0 to ``high``."""
    if len(args) != 1:
        raise UsageError(f"Give one number from 0 to {high:g}.", subcommand=name)
    raw = args[0]
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"`{_clip(raw)}` is not a number.", subcommand=name) from None
    if not math.isfinite(value) or not 0.0 <= value <= high:
        raise UsageError(f"`{_clip(raw)}` is not from 0 to {high:g}.", subcommand=name)
    return value


def _parse_mode(args: list[str]) -> Mode:
    if len(args) != 1:
        raise UsageError("Give one of react, reply or off.", subcommand="mode")
    word = args[0].lower()
    for mode in MODES:
        if word == mode:
            return Mode(mode=mode)
    raise UsageError(f"`{_clip(args[0])}` is not react, reply or off.", subcommand="mode")


def _clip(word: str) -> str:
    # Echo user input back short and without backticks, so it cannot break the formatting.
    cleaned = word.replace("`", "'")
    return cleaned if len(cleaned) <= 40 else cleaned[:40] + "…"


_NO_ARGS: dict[str, Command] = {
    "status": Status(),
    "jobs": Jobs(),
    "stats": Stats(),
    "optout": OptOut(),
    "optin": OptIn(),
    "forget-me": ForgetMe(),
}
_PARSERS: dict[str, Callable[[list[str]], Command]] = {
    "retrain": _parse_retrain,
    "promote": _parse_promote,
    "rollback": _parse_rollback,
    "threshold": _parse_threshold,
    "mode": _parse_mode,
    "explore": _parse_explore,
}
_NAMES: dict[type, str] = {
    Help: "help",
    Status: "status",
    Jobs: "jobs",
    Stats: "stats",
    OptOut: "optout",
    OptIn: "optin",
    ForgetMe: "forget-me",
    Retrain: "retrain",
    Promote: "promote",
    Rollback: "rollback",
    Threshold: "threshold",
    Mode: "mode",
    Explore: "explore",
}
