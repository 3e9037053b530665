"""Hypothesis: whatever arguments reach the Web API, it answers like Slack, never with a 500."""

from __future__ import annotations

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.workspace import Workspace
from bot.workspace.webapi import METHODS

NAMES = [
    "channel",
    "ts",
    "timestamp",
    "text",
    "blocks",
    "thread_ts",
    "name",
    "user",
    "user_id",
    "view",
    "trigger_id",
    "files",
    "filename",
    "length",
    "limit",
    "cursor",
    "oldest",
    "latest",
    "channel_id",
    "file",
    "hash",
    "view_id",
    "types",
    "inclusive",
]
SCALARS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "C_GENERAL",
            "U_YOU",
            "G_PRIVATE",
            "#random",
            "[]",
            "{}",
            '[{"type":1}]',
            '{"type": "home", "blocks": []}',
            "-1",
            "1e309",
            "null",
        ]
    ),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
)
PARAMS = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=st.sampled_from(sorted(METHODS)), params=PARAMS, as_json=st.booleans())
async def test_web_api_never_answers_500(
    ws: Workspace, method: str, params: dict, as_json: bool
) -> None:
    headers = {"Authorization": f"Bearer {ws.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        if as_json:
            request = session.post(ws.api_url + method, json=params)
        else:
            form = {k: v if isinstance(v, str) else str(v) for k, v in params.items()}
            request = session.post(ws.api_url + method, data=form)
        async with request as resp:
            assert resp.status == 200
            body = await resp.json()
    assert isinstance(body["ok"], bool)
    assert body["ok"] or isinstance(body["error"], str)
