"""tuning.json_text.dumps against json.dumps: the same values decoded, the same values refused."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuning.json_text import dumps

# Keys json.dumps coerces to strings (and orjson refuses); text with lone surrogates.
keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats())
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities too
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=["Cs"])),  # surrogates
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


def standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@settings(max_examples=600, deadline=None)
@given(values)
def test_dumps_decodes_to_what_json_dumps_gives_and_refuses_what_it_refuses(value: Any) -> None:
    try:
        expected = standard(value)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            dumps(value)
        return
    assert json.loads(dumps(value)) == json.loads(expected)


@pytest.mark.parametrize(
    "value",
    [
        {"score": math.inf},
        [1, [2, {"deep": -math.inf}]],
        {"when": datetime(2026, 12, 2, tzinfo=UTC)},
        {"row": dataclasses.make_dataclass("Row", ["a"])(1)},
        {"set": {1, 2}},
        {"bytes": b"raw"},
    ],
    ids=["infinity", "nested -infinity", "datetime", "dataclass", "set", "bytes"],
)
def test_what_is_not_json_is_refused(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        standard(value)
    with pytest.raises((TypeError, ValueError)):
        dumps(value)


def test_deep_nesting_beyond_orjsons_limit_is_still_encoded() -> None:
    value: Any = "leaf"
    for _ in range(400):  # orjson stops at 255 levels
        value = [value]
    assert json.loads(dumps(value)) == value


def test_the_one_documented_difference_uuids() -> None:
    # json.dumps refuses a UUID; orjson writes its text. Work items never hold one.
    with pytest.raises(TypeError):
        standard({"id": uuid.UUID(int=1)})
    assert dumps({"id": uuid.UUID(int=1)}) == '{"id":"00000000-0000-0000-0000-000000000001"}'
