"""JSON text for work items: orjson's speed, the standard library's verdicts.

Every acknowledged event's work item is encoded before the ack, and ``json.dumps`` was the
largest single cost of an ack under load (bench/bench_events.py). orjson encodes several times
faster, but it is not the same encoder: it writes NaN and infinities as ``null``, where
``json.dumps(allow_nan=False)`` refuses them, and it refuses what the standard library coerces
or allows (non-string keys, integers beyond 64 bits, lone surrogates, deep nesting). So what
orjson refuses goes to the standard library, and a ``null`` in orjson's text is checked for a
non-finite float. One difference remains: orjson writes UUIDs and enums, which the standard
library refuses; work items are built from JSON and never hold either.
"""

from __future__ import annotations

import json
import math

import orjson

# Dataclasses and datetimes are not JSON: orjson hands them to the default, which refuses them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: object) -> str:
    """Return ``value`` as compact JSON text; raise TypeError or ValueError if it is not JSON.

    The text decodes to what ``json.dumps(value, ensure_ascii=False, allow_nan=False)`` gives,
    and the same values are refused.

    >>> dumps({"text": "ça va", "n": [1, 2.5, None], 7: True})
    '{"text":"ça va","n":[1,2.5,null],"7":true}'
    >>> dumps({"score": float("nan")})
    Traceback (most recent call last):
    ValueError: Out of range float values are not JSON compliant: nan
    """
    try:
        text = orjson.dumps(value, default=_refuse, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if b"null" in text:
        _refuse_non_finite(value)
    return text.decode("utf-8")


def _refuse(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _refuse_non_finite(value: object) -> None:
    # Iterative, as orjson encodes up to 255 levels deep and Python's stack may be shallower.
    below = [value]
    while below:
        node = below.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                raise ValueError(f"Out of range float values are not JSON compliant: {node!r}")
        elif isinstance(node, dict):
            below.extend(node.values())
        elif isinstance(node, list | tuple):
            below.extend(node)
