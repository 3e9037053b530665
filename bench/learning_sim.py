"""The simulated people of ``bench_learning``: their prompts, their hidden tastes, what they do.

Pure: no Slack, no store. The driver (:mod:`bench.bench_learning`) shows a person what the bot
posted and which buttons it offers, asks :func:`react_to_reply` or :func:`label_message` what
they do, and does it in the emulated workspace. Everything a person decides is here, so a new
affordance (say *Suggest a better reply*) is one more field in :class:`Offered` or
:class:`ReplyReaction` and one more branch below.

>>> prompt = Prompt("The printer jammed again right before my meeting.", topic="printer")
>>> SHORT_TOPICAL.matches(prompt, "Oh good, the printer has opinions.")
True
>>> QUESTION.matches(prompt, "Printers. Who needs them.")
False
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

# Everyday things people complain about: (as written in the prompt, the word a reply names).
TOPICS: tuple[tuple[str, str], ...] = (
    ("the printer", "printer"), ("my laptop", "laptop"), ("the wifi", "wifi"),
    ("the coffee machine", "coffee"), ("the train", "train"), ("the bus", "bus"),
    ("my phone", "phone"), ("the elevator", "elevator"), ("the dishwasher", "dishwasher"),
    ("the heating", "heating"), ("my car", "car"), ("the washing machine", "washing"),
    ("the build server", "build"), ("the vending machine", "vending"), ("my inbox", "inbox"),
    ("the parking lot", "parking"), ("the weather", "weather"), ("my neighbour", "neighbour"),
    ("the projector", "projector"), ("the microwave", "microwave"), ("my headphones", "headphones"),
    ("the fridge", "fridge"), ("the air conditioning", "air"), ("my landlord", "landlord"),
    ("the meeting room", "meeting"), ("the calendar app", "calendar"), ("my bike", "bike"),
    ("the spreadsheet", "spreadsheet"), ("the delivery", "delivery"),
    ("the password reset", "password"),
    ("the toaster", "toaster"), ("my keyboard", "keyboard"), ("the queue at the bank", "queue"),
    ("the shower", "shower"), ("the smoke alarm", "alarm"), ("my flight", "flight"),
    ("the software update", "update"), ("the gym", "gym"), ("the kettle", "kettle"),
    ("the video call", "call"),
)  # fmt: skip

SITUATIONS: tuple[str, ...] = (
    "{t} broke again right before my deadline.",
    "Why does {t} always stop working on Mondays?",
    "{t} is making that noise again.",
    "I waited an hour for {t} and it still does not work.",
    "Apparently {t} needs another update today.",
    "{t} decided to quit on me in the middle of everything.",
    "Guess who spent the whole morning fighting with {t}.",
    "{t} is late again, third time this week.",
    "So {t} died and nobody told me.",
    "I just love how {t} picks the worst moment to fail.",
)


@dataclass(frozen=True)
class Prompt:
    """What a person asks the bot about, and the topic a good reply would name."""

    text: str
    topic: str


def build_prompts(count: int, *, seed: int) -> list[Prompt]:
    """Return ``count`` distinct everyday complaints, shuffled with ``seed``."""
    every = [
        Prompt(_capitalised(s.format(t=phrase)), topic=word)
        for s in SITUATIONS
        for phrase, word in TOPICS
    ]
    random.Random(seed).shuffle(every)
    if count > len(every):
        raise ValueError(f"only {len(every)} distinct prompts, asked for {count}")
    return every[:count]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def names_topic(prompt: Prompt, reply: str) -> bool:
    """Return whether ``reply`` names the prompt's topic (its word, or that word's plural)."""
    return any(w in (prompt.topic, prompt.topic + "s") for w in _words(reply))


@dataclass(frozen=True)
class Taste:
    """A hidden, consistent taste: which replies a person likes, and what they would write."""

    name: str
    description: str
    matches: Callable[[Prompt, str], bool]
    write: Callable[[Prompt], str]  # the person's own better reply (a correction)


SHORT_TOPICAL = Taste(
    name="short-topical",
    description="at most 12 words and names the topic of the prompt",
    matches=lambda p, reply: len(_words(reply)) <= 12 and names_topic(p, reply),
    write=lambda p: f"Oh sure, the {p.topic} will fix itself any minute now.",
)
QUESTION = Taste(
    name="question",
    description="ends with a question",
    matches=lambda p, reply: reply.rstrip().rstrip("*_~ ").endswith("?"),
    write=lambda p: f"And you expected the {p.topic} to behave because…?",
)
TASTES: dict[str, Taste] = {t.name: t for t in (SHORT_TOPICAL, QUESTION)}


@dataclass(frozen=True)
class Behaviour:
    """How often people do each thing; the same for every simulated person."""

    retry_if_disliked: float = 0.6
    retry_if_liked: float = 0.1
    max_retries: int = 2
    correct_if_disliked: float = 0.3
    confirm_flags: float = 1.0  # ✅/❌ on the bot's flags
    mark_missed: float = 0.5  # the flag reaction on a sarcastic message the bot missed


@dataclass(frozen=True)
class Offered:
    """What the bot offers on a reply, as Slack shows it (detected from the blocks)."""

    try_again: bool = False


@dataclass(frozen=True)
class ReplyReaction:
    """What a person does with one reply: rate it, maybe correct it, maybe ask again."""

    rating: int  # +1 👍, -1 👎
    # What they would write if the bot asked for a better reply; the driver submits it only
    # when Slack shows a way to (decided either way, so runs stay comparable across versions).
    correction: str | None = None
    try_again: bool = False


def react_to_reply(
    taste: Taste,
    prompt: Prompt,
    reply: str,
    *,
    offered: Offered,
    retries: int,
    rng: random.Random,
    behaviour: Behaviour = Behaviour(),
) -> ReplyReaction:
    """Return what a person with ``taste`` does with ``reply`` (the ``retries``-th retry)."""
    liked = taste.matches(prompt, reply)
    correction = None
    if not liked and rng.random() < behaviour.correct_if_disliked:
        correction = taste.write(prompt)
    chance = behaviour.retry_if_liked if liked else behaviour.retry_if_disliked
    again = offered.try_again and retries < behaviour.max_retries and rng.random() < chance
    return ReplyReaction(rating=1 if liked else -1, correction=correction, try_again=again)


@dataclass(frozen=True)
class Label:
    """What a person does with a channel message: the reaction to add, or None."""

    reaction: str | None


CONFIRM, REFUTE = "white_check_mark", "x"


def label_message(
    *,
    sarcastic: bool,
    flagged: bool,
    flag_reaction: str,
    rng: random.Random,
    behaviour: Behaviour = Behaviour(),
) -> Label:
    """Return how a person labels one message they know the truth of: ✅/❌ a flag, mark a miss."""
    if flagged:
        if rng.random() >= behaviour.confirm_flags:
            return Label(None)
        return Label(CONFIRM if sarcastic else REFUTE)
    if sarcastic and rng.random() < behaviour.mark_missed:
        return Label(flag_reaction)
    return Label(None)
