"""Check blocks against Slack's Block Kit limits; used by tests and to log oversized payloads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.views import blocks as bk


def block_kit_problems(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return one line per limit the blocks break; an empty list means they are within limits."""
    problems = []
    if len(blocks) > bk.MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {bk.MAX_BLOCKS}")
    for index, block in enumerate(blocks):
        problems.extend(f"block {index}: {p}" for p in _block_problems(block))
    return problems


def _block_problems(block: Mapping[str, Any]) -> Iterator[str]:
    kind = block.get("type")
    text = (block.get("text") or {}).get("text", "")
    if kind == "section" and len(text) > bk.MAX_SECTION_TEXT:
        yield f"section text {len(text)} > {bk.MAX_SECTION_TEXT}"
    if kind == "header" and len(text) > bk.MAX_HEADER_TEXT:
        yield f"header text {len(text)} > {bk.MAX_HEADER_TEXT}"
    if kind == "actions" and len(block.get("elements", ())) > 25:
        yield "more than 25 elements"
    for element in _elements(block):
        if element.get("type") != "button":
            continue
        if len(element.get("value", "")) > bk.MAX_BUTTON_VALUE:
            yield f"button value > {bk.MAX_BUTTON_VALUE}"
        if len(element.get("action_id", "")) > bk.MAX_ACTION_ID:
            yield f"action_id > {bk.MAX_ACTION_ID}"
        if len(element.get("text", {}).get("text", "")) > bk.MAX_BUTTON_TEXT:
            yield f"button text > {bk.MAX_BUTTON_TEXT}"


def _elements(block: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from block.get("elements", ())
    if "accessory" in block:
        yield block["accessory"]
