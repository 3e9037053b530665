"""The scorer's request parsing, table-driven: what the contract allows, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from tuning.scoring.request import MAX_TEXT_CHARS, RequestError, parse_request


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "example": {
            "systemInstruction": {"parts": [{"text": "Be sarcastic."}]},
            "contents": [{"role": "user", "parts": [{"text": "The deploy failed."}]}],
            "references": {"preferred_reply": "Shocking."},
        },
        "response": {"role": "model", "parts": [{"text": "What a surprise."}]},
        "metadata": {"step": 4, "tuning_job_id": 123456789},
    }
    return base | changes


def test_the_documented_body_parses() -> None:
    parsed = parse_request(body())
    assert parsed.prompt == "The deploy failed."
    assert parsed.response == "What a surprise."
    assert dict(parsed.references) == {"preferred_reply": "Shocking."}
    assert (parsed.job_id, parsed.step) == ("123456789", 4)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"metadata": {"step": "7", "tuning_job_id": "9223372036854775807"}},
            ("9223372036854775807", 7),
        ),
        ({"metadata": None}, (None, None)),  # a dry run (validate_reward) may send no metadata
    ],
)
def test_metadata_int64_may_arrive_as_a_string(
    changes: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    parsed = parse_request(body(**changes))
    assert (parsed.job_id, parsed.step) == expected


def test_thoughts_and_non_text_parts_are_left_out_of_the_response() -> None:
    response = {"parts": [{"text": "plan", "thought": True}, {"inlineData": {}}, {"text": "Wow."}]}
    assert parse_request(body(response=response)).response == "Wow."


def test_the_last_user_turn_is_the_prompt() -> None:
    contents = [
        {"role": "user", "parts": [{"text": "first"}]},
        {"role": "model", "parts": [{"text": "reply"}]},
        {"role": "user", "parts": [{"text": "second"}]},
    ]
    assert parse_request(body(example={"contents": contents})).prompt == "second"


def test_huge_texts_are_clipped() -> None:
    huge = "x" * (MAX_TEXT_CHARS * 10)
    parsed = parse_request(body(response={"parts": [{"text": huge}]}))
    assert len(parsed.response) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "body: must be a JSON object"),
        (body(example=None), "example: must be an object"),
        (body(example={"contents": []}), "example.contents: must be a non-empty list"),
        (body(example={"contents": [{"role": "model", "parts": [{"text": "x"}]}]}), "no user text"),
        (body(example={"contents": [{"parts": [{"text": "  "}]}]}), "no user text"),
        (body(example={"contents": ["x"]}), "example.contents[0]: must be an object"),
        (
            body(example={"contents": [{"parts": [{"text": 3}]}]}),
            "example.contents[0].parts[0].text: must be text",
        ),
        (body(response=None), "response: must be an object"),
        (body(response={"parts": "x"}), "response.parts: must be a list"),
        (body(response={"parts": [1]}), "response.parts[0]: must be an object"),
        (body(metadata=[]), "metadata: must be an object"),
        (body(metadata={"step": True}), "metadata.step: must be an integer"),
        (body(metadata={"step": 1.5}), "metadata.step: must be an integer"),
        (body(metadata={"tuning_job_id": "12x"}), "metadata.tuning_job_id: must be an integer"),
        (
            body(example={"contents": [{"parts": [{"text": "a"}]}], "references": {"k": 1}}),
            "example.references: must map names to text",
        ),
    ],
)
def test_malformed_bodies_are_refused_naming_the_field(payload: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_request(payload)


def test_a_refusal_never_echoes_the_text() -> None:
    secret = "password hunter2"
    with pytest.raises(RequestError) as caught:
        parse_request(body(response={"parts": [{"text": secret}, "x"]}))
    assert "hunter2" not in str(caught.value)
