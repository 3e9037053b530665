"""Local candidates that read well: the right slot filler, English-looking fills, many frames."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tuning.models.local_generator import PAIRS_FILE, RETRIEVED, LocalGenerator
from tuning.models.noun_phrases import subject
from tuning.models.readable import reads_well
from tuning.models.reply_templates import FRAMES, themes_of
from tuning.text import normalize


@pytest.mark.parametrize(
    ("prompt", "slot"),
    [
        ("Ugh, my manager says the printer is broken again", "the printer"),
        ("I just love waiting 40 minutes for the bus", "the bus"),
        ("Ah yes, put the dishes away", "the dishes"),
        ("the weather is worse today", "the weather"),
        ("Nothing beats a 7am meeting about the new roadmap", "the new roadmap"),
        ("my code review got rejected again", "your code review"),
        ("oh great, another meeting that could have been an email", "another meeting"),
        ("Love getting stuck in traffic for two hours", "the traffic"),
        ("Oh I love it when Jira goes down", "Jira"),
        ("the coffee machine on floor 3 is out of order", "the coffee machine"),
        ("I love being ignored by my boss", "your boss"),
        ("my phone battery died at 2pm", "your phone battery"),
        ("so the deploy failed and the release is tomorrow", "the deploy"),
        ("put it back", None),
        ("worse", None),
    ],
)
def test_the_slot_holds_what_the_complaint_is_about(prompt: str, slot: str | None) -> None:
    assert subject(prompt) == slot


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ah yes, the printer. My favourite kind of surprise.", True),
        ("Sure. Great.", True),
        ("Oh wow, thanks!", True),
        ("I'll add this to my list of things I'm thrilled about.", True),
        ("Ah yes, put. My favourite kind of surprise.", False),
        ("Nothing says 'peak productivity' quite like worse.", False),
        ("Oh good, the the build.", False),
        ("Stop the presses: the.", False),
        ("Oh wonderful, {phrase}.", False),
        ("Well (that went well.", False),
    ],
)
def test_reads_well(text: str, expected: bool) -> None:
    assert reads_well(text) is expected


TOPICS = [
    ("the printer", "is jammed again"), ("the wifi", "keeps dropping"),
    ("my laptop", "froze during the demo"), ("the train", "is late again"),
    ("the rain", "ruined my weekend"), ("the coffee", "is cold again"),
    ("the standup", "ran for an hour"), ("the microwave", "smells like fish"),
    ("the deploy", "failed on Friday"), ("my flight", "got cancelled"),
    ("the heatwave", "is melting everything"), ("the lunch order", "arrived wrong"),
    ("the budget meeting", "moved to 7am"), ("the bus", "skipped my stop"),
    ("the router", "needs a reboot every hour"), ("the snow", "closed every road"),
    ("the new roadmap", "changed again"), ("my phone", "died at noon"),
    ("the pizza", "arrived burnt"), ("the traffic", "is unbelievable today"),
    ("the elevator", "is broken again"), ("my neighbour's dog", "barked all night"),
    ("the gym", "is closed for repairs"), ("the parking lot", "is full again"),
    ("the spreadsheet", "crashed with all my work"),
]  # fmt: skip
OPENERS = ["Great,", "Oh wonderful,"]
PROMPTS = [f"{o} {t} {c}" for t, c in TOPICS for o in OPENERS]  # 50 prompts


def test_no_frame_tops_more_than_a_fifth_of_prompts(seed_generator: LocalGenerator) -> None:
    frames: Counter[str] = Counter()
    for prompt in PROMPTS:
        best = seed_generator.candidates(prompt, n=1)[0].text
        drafts = seed_generator.drafts(prompt, size=36)
        frame = next(d.frame for d in drafts if d.text == best)
        frames[best if frame == RETRIEVED else frame] += 1  # a retrieved reply is its own frame
    assert len(PROMPTS) == 50
    assert max(frames.values()) <= 0.2 * len(PROMPTS), frames.most_common(3)


def test_work_phrases_stay_out_of_non_work_prompts(seed_generator: LocalGenerator) -> None:
    work = {f.text for f in FRAMES if f.theme == "work"}
    prompt = "Great, the rain ruined my weekend picnic"
    assert "work" not in themes_of(prompt)
    assert not work & {d.frame for d in seed_generator.drafts(prompt, size=200)}
    office = "Great, the budget meeting moved to 7am"
    assert work & {d.frame for d in seed_generator.drafts(office, size=200)}


@pytest.mark.parametrize("prompt", PROMPTS[::5])
def test_candidates_read_well(seed_generator: LocalGenerator, prompt: str) -> None:
    drafts = seed_generator.drafts(prompt, size=40)
    framed = [d.text for d in drafts if d.frame != RETRIEVED]
    assert framed
    assert all(reads_well(text) for text in framed)


def test_try_again_gets_replies_not_yet_shown(seed_generator: LocalGenerator) -> None:
    prompt = "the printer is jammed again"
    first = seed_generator.candidates(prompt, n=1)
    assert seed_generator.candidates(prompt, n=1) == first  # deterministic without exclude
    shown = [first[0].text]
    for _ in range(10):
        fresh = seed_generator.candidates(prompt, n=1, exclude=shown)
        assert len(fresh) == 1
        assert normalize(fresh[0].text) not in {normalize(s) for s in shown}
        shown.append(fresh[0].text)
    everything = seed_generator.pool(prompt, size=1000)
    assert seed_generator.candidates(prompt, n=3, exclude=everything) == []


async def test_generate_takes_exclude(seed_generator: LocalGenerator) -> None:
    prompt = "the wifi keeps dropping"
    best = (await seed_generator.generate(prompt, n=1))[0].text
    again = await seed_generator.generate(prompt, n=2, exclude=[best])
    assert best not in [c.text for c in again]


def test_templates_saved_before_themes_still_load(
    seed_generator: LocalGenerator, tmp_path: Path
) -> None:
    seed_generator.save(tmp_path, fingerprint="f", metrics={})
    data = json.loads((tmp_path / PAIRS_FILE).read_text(encoding="utf-8"))
    assert data["templates"][0] == [FRAMES[0].theme, FRAMES[0].text]
    data["templates"] = ["Oh wonderful, {phrase}."]  # format before themes: plain strings
    (tmp_path / PAIRS_FILE).write_text(json.dumps(data), encoding="utf-8")
    loaded = LocalGenerator.load(tmp_path)
    assert "Oh wonderful, the printer." in loaded.pool("the printer is jammed", size=40)
