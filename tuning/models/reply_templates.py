"""Sarcastic reply frames for the local generator, by theme; ``{phrase}``: what the prompt is about.

``{Phrase}`` is the same phrase with a capital first letter, for frames that start with it. The
slot always holds a noun phrase ("the printer", "your code review"), in a place where singular
and plural both read correctly. Work frames ("peak productivity") are only offered for prompts
that are about work; generic frames fit anything. Kept dry and good-natured: they mock
situations, never people.

>>> sorted(themes_of("the deploy failed again before the release"))
['tech', 'work']
>>> themes_of("lovely weather for a picnic")
frozenset({'weather'})
"""

from __future__ import annotations

from dataclasses import dataclass

from tuning.text import tokens

GENERIC = "generic"


@dataclass(frozen=True)
class Frame:
    """A reply template and the theme of prompts it suits (``generic``: any prompt)."""

    text: str
    theme: str = GENERIC


THEME_WORDS: dict[str, frozenset[str]] = {
    "work": frozenset(
        str.split(
            """meeting meetings standup deadline deadlines boss manager email emails inbox office
            jira ticket tickets sprint roadmap client clients report reports spreadsheet slides
            deploy release build review reviews invoice budget payroll shift overtime colleague
            colleagues coworker coworkers team retro backlog project projects quarter kpi okr
            calendar agenda interview promotion job work"""
        )
    ),
    "weather": frozenset(
        str.split(
            """weather rain raining rainy snow snowing snowy sun sunny heat heatwave hot cold
            freezing storm wind windy humid humidity fog forecast thunderstorm drizzle hail"""
        )
    ),
    "tech": frozenset(
        str.split(
            """wifi internet laptop computer phone printer update updates app apps software bug
            bugs server servers battery password router vpn browser website deploy build crash
            keyboard screen monitor download upload cloud outage login"""
        )
    ),
    "food": frozenset(
        str.split(
            """coffee lunch dinner breakfast pizza food snack snacks kitchen fridge microwave tea
            sandwich salad restaurant cafeteria cook cooking recipe burnt oven"""
        )
    ),
    "travel": frozenset(
        str.split(
            """train trains bus buses flight flights plane airport traffic commute car cars
            delay delayed delays luggage taxi metro subway tube parking highway road roads trip"""
        )
    ),
}


def themes_of(prompt: str) -> frozenset[str]:
    """Return the themes whose words the prompt uses (empty: only generic frames fit)."""
    words = set(tokens(prompt))
    return frozenset(theme for theme, vocab in THEME_WORDS.items() if words & vocab)


def _frames(theme: str, *texts: str) -> tuple[Frame, ...]:
    return tuple(Frame(text, theme) for text in texts)


FRAMES: tuple[Frame, ...] = (
    *_frames(
        GENERIC,
        "Oh wonderful, {phrase}. Exactly what this week was missing.",
        "Ah yes, {phrase}. My favourite kind of surprise.",
        "Wow, {phrase}? I'm shocked. Truly shocked.",
        "{Phrase}? Groundbreaking stuff, really.",
        "Can't wait to tell my grandkids about {phrase}.",
        "Oh good, {phrase}. I was worried today would be boring.",
        "Sure, {phrase}. What could possibly go wrong?",
        "Ah, {phrase}: the gift that keeps on giving.",
        "Stop the presses: {phrase}.",
        "Who could have predicted {phrase}? Oh right, everyone.",
        "I'll add {phrase} to my list of things I'm thrilled about.",
        "Oh, {phrase}? Please, tell me more. I'm riveted.",
        "{Phrase}, you say? What a time to be alive.",
        "Fantastic. {Phrase} was the one thing my day needed.",
        "Truly, {phrase} is the hero this story deserves.",
        "Someone should write a ballad about {phrase}.",
        "Breaking news: {phrase} continues to amaze absolutely nobody.",
        "Ten out of ten for {phrase}. Would suffer again.",
        "Somebody frame {phrase} and hang it in a museum.",
        "Ah, {phrase}. A classic in its own time.",
        "Nothing builds character quite like {phrase}.",
        "Thank goodness for {phrase}. Life was getting far too easy.",
        "What would we do without {phrase}? Relax, probably.",
        "Let's all take a moment to appreciate {phrase}.",
    ),
    *_frames(
        "work",
        "Nothing says 'peak productivity' quite like {phrase}.",
        "Great, {phrase}. Let me clear my calendar for the rest of my life.",
        "Bold move bringing up {phrase} before my coffee.",
        "I'll be sure to mention {phrase} in my performance review.",
        "{Phrase}: proudly turning a five-minute job into a week-long project.",
        "Let's schedule a meeting to discuss {phrase}. And then another one.",
        "Per my last email, {phrase} remains a delight.",
    ),
    *_frames(
        "weather",
        "Ah, {phrase}. Mother Nature really outdid herself.",
        "Perfect, {phrase}. Just what my hair wanted.",
        "Nothing like {phrase} to make you cherish the indoors.",
        "Who needs a holiday when there's {phrase}?",
    ),
    *_frames(
        "tech",
        "Have you tried turning {phrase} off and never on again?",
        "Ah, {phrase}. Cutting-edge technology at its finest.",
        "{Phrase}? Must be a feature, not a bug.",
        "I'm sure {phrase} will be fixed in the next update. Any decade now.",
    ),
    *_frames(
        "food",
        "Ah, {phrase}. A true culinary adventure.",
        "Nothing whets the appetite quite like {phrase}.",
        "Michelin stars all round for {phrase}.",
        "{Phrase}? My taste buds are speechless.",
    ),
    *_frames(
        "travel",
        "Ah, {phrase}. The scenic route to nowhere.",
        "Nothing says 'adventure' like {phrase}.",
        "Love {phrase}. Who needs to arrive anywhere, really?",
        "I packed snacks for {phrase}. And a sleeping bag.",
    ),
)
# Frames without a slot, for prompts that name nothing a reply could point at.
SLOTLESS: tuple[Frame, ...] = _frames(
    GENERIC,
    "Wow. Just wow. Riveting.",
    "What a time to be alive.",
    "Stop, stop, I can only get so excited.",
    "Truly the highlight of my day.",
)
TEMPLATES: tuple[str, ...] = tuple(frame.text for frame in FRAMES)  # format-1 name
