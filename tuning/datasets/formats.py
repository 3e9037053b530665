"""Vertex AI JSONL formats for Gemini SFT and preference tuning, and their validation.

Formats follow https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare
and .../gemini-use-preference-tuning (one JSON object per line). A reinforcement example is a
prompt without an answer, plus ``references`` the reward function may read
(``types.ReinforcementTuningExample`` in google-genai; Vertex's reinforcement tuning dataset page).

>>> line = sft_line("Label it.", "Oh great.", "SARCASTIC")
>>> validate_sft(line)
[]
>>> validate_preference({"contents": [], "completions": []})
['contents: must be a non-empty list', 'completions: must hold exactly 2 items']
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from tuning.errors import DatasetError
from tuning.redaction import find_pii

Line = dict[str, Any]


def sft_line(system: str, user: str, model: str) -> Line:
    """Return one Gemini SFT example: a system instruction, a user turn and the model's answer."""
    return {
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [
            {"role": "user", "parts": [{"text": user}]},
            {"role": "model", "parts": [{"text": model}]},
        ],
    }


def preference_line(user: str, chosen: str, rejected: str, *, system: str | None = None) -> Line:
    """Return one preference example: the prompt, then the preferred (1) and other (0) reply.

    ``system`` is the optional system instruction Vertex accepts on preference examples; the
    generator's lines carry the same one as its SFT lines and its serving calls.
    """
    line: Line = {"systemInstruction": {"parts": [{"text": system}]}} if system else {}
    return line | {
        "contents": [{"role": "user", "parts": [{"text": user}]}],
        "completions": [
            {"score": 1, "completion": {"role": "model", "parts": [{"text": chosen}]}},
            {"score": 0, "completion": {"role": "model", "parts": [{"text": rejected}]}},
        ],
    }


def reinforcement_line(system: str, user: str, references: dict[str, str] | None = None) -> Line:
    """Return one reinforcement example: a system instruction, the prompt, and its references."""
    line: Line = {
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [{"role": "user", "parts": [{"text": user}]}],
    }
    return line | ({"references": dict(references)} if references else {})


def validate_reinforcement(line: Any) -> list[str]:
    """Return the problems of one reinforcement line (empty when it is valid)."""
    if not isinstance(line, dict):
        return ["line: must be a JSON object"]
    problems = _unexpected(line, {"systemInstruction", "contents", "references"})
    if "systemInstruction" in line:
        problems += _parts(line["systemInstruction"], "systemInstruction")
    contents = line.get("contents")
    if not isinstance(contents, list) or not contents:
        return [*problems, "contents: must be a non-empty list"]
    for index, turn in enumerate(contents):
        expected = "user" if index % 2 == 0 else "model"
        problems += _turn(turn, f"contents[{index}]", expected)
    if len(contents) % 2 == 0:
        problems.append("contents: must end with a user turn (the prompt to answer)")
    references = line.get("references", {})
    if not isinstance(references, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in references.items()
    ):
        problems.append("references: must map names to text")
    else:
        for name, text in references.items():
            if pii := _pii(text):
                problems.append(f"references.{name}: personal data left ({', '.join(pii)})")
    return problems


def validate_sft(line: Any) -> list[str]:
    """Return the problems of one SFT line (empty when it is valid)."""
    if not isinstance(line, dict):
        return ["line: must be a JSON object"]
    problems = _unexpected(line, {"systemInstruction", "contents"})
    if "systemInstruction" in line:
        problems += _parts(line["systemInstruction"], "systemInstruction")
    contents = line.get("contents")
    if not isinstance(contents, list) or len(contents) < 2:
        return [*problems, "contents: must be a list of at least a user and a model turn"]
    for index, turn in enumerate(contents):
        expected = "user" if index % 2 == 0 else "model"
        problems += _turn(turn, f"contents[{index}]", expected)
    if len(contents) % 2:
        problems.append("contents: must end with a model turn")
    return problems


def validate_preference(line: Any) -> list[str]:
    """Return the problems of one preference line (empty when it is valid)."""
    if not isinstance(line, dict):
        return ["line: must be a JSON object"]
    problems = _unexpected(line, {"systemInstruction", "contents", "completions"})
    if "systemInstruction" in line:
        problems += _parts(line["systemInstruction"], "systemInstruction")
    contents = line.get("contents")
    if not isinstance(contents, list) or not contents:
        problems.append("contents: must be a non-empty list")
    else:
        for index, turn in enumerate(contents):
            expected = "user" if index % 2 == 0 else "model"
            problems += _turn(turn, f"contents[{index}]", expected)
        if len(contents) % 2 == 0:
            problems.append("contents: must end with a user turn")
    return problems + _completions(line.get("completions"))


def _completions(completions: Any) -> list[str]:
    """Return the problems of a preference line's two scored completions."""
    if not isinstance(completions, list) or len(completions) != 2:
        return ["completions: must hold exactly 2 items"]
    problems: list[str] = []
    scores, texts = [], []
    for index, item in enumerate(completions):
        where = f"completions[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += _unexpected(item, {"score", "completion"}, where)
        scores.append(item.get("score"))
        problems += _turn(item.get("completion"), f"{where}.completion", "model")
        texts.append(_texts(item.get("completion")))
    if sorted(scores, key=repr) != [0, 1] or any(isinstance(s, bool) for s in scores):
        problems.append("completions: scores must be one 1 and one 0")
    if len(texts) == 2 and texts[0] == texts[1]:
        problems.append("completions: the two replies are the same")
    return problems


def _unexpected(value: dict[str, Any], allowed: set[str], where: str = "line") -> list[str]:
    extra = sorted(str(key) for key in value if key not in allowed)
    return [f"{where}: unexpected field {key!r}" for key in extra]


def _turn(turn: Any, where: str, role: str) -> list[str]:
    if not isinstance(turn, dict):
        return [f"{where}: must be an object"]
    problems = _unexpected(turn, {"role", "parts"}, where)
    if turn.get("role") != role:
        problems.append(f"{where}.role: must be {role!r}")
    return problems + _parts(turn, where)


def _parts(value: Any, where: str) -> list[str]:
    parts = value.get("parts") if isinstance(value, dict) else None
    if not isinstance(parts, list) or not parts:
        return [f"{where}.parts: must be a non-empty list"]
    problems: list[str] = []
    for index, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}.parts[{index}].text: must be non-empty text")
        elif pii := _pii(text):
            problems.append(f"{where}.parts[{index}].text: personal data left ({', '.join(pii)})")
    return problems


@functools.lru_cache(maxsize=1024)
def _pii(text: str) -> tuple[str, ...]:
    """Return the PII kinds in ``text``; cached, as every line repeats the system prompt."""
    return tuple(find_pii(text))


def _texts(turn: Any) -> tuple[str, ...]:
    parts = turn.get("parts") if isinstance(turn, dict) else None
    if not isinstance(parts, list):
        return ()
    return tuple(str(p.get("text")) if isinstance(p, dict) else "" for p in parts)


VALIDATORS = {
    "sft": validate_sft,
    "preference": validate_preference,
    "reinforcement": validate_reinforcement,
}


def read_jsonl(path: Path, *, method: str) -> list[Line]:
    """Read and validate a dataset file; raise DatasetError naming the first bad line."""
    validate = VALIDATORS.get(method, validate_sft)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable dataset ({type(exc).__name__})") from exc
    lines: list[Line] = []
    for number, text in enumerate(raw.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        problems = validate(line)
        if problems:
            raise DatasetError(f"{path}:{number}: {problems[0]}")
        lines.append(line)
    return lines


def sft_pair(line: Line) -> tuple[str, str]:
    """Return the (input, target) texts of a valid SFT line; ``(prompt, "")`` for a prompt only.

    A reinforcement line ends with the prompt: evaluation reads its prompts through here.
    """
    contents = line["contents"]
    if len(contents) % 2:
        return contents[-1]["parts"][0]["text"], ""
    return contents[-2]["parts"][0]["text"], contents[-1]["parts"][0]["text"]


def preference_triple(line: Line) -> tuple[str, str, str]:
    """Return (prompt, preferred, dispreferred) texts of a valid preference line."""
    prompt = line["contents"][-1]["parts"][0]["text"]
    by_score = {
        item["score"]: item["completion"]["parts"][0]["text"] for item in line["completions"]
    }
    return prompt, by_score[1], by_score[0]
