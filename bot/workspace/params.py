"""Read Web API arguments the way Slack does: query string, form body or JSON body, all alike."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from bot.workspace.model import JSON
from bot.workspace.state import ApiFailure

# Slack's event_type: a short word of letters, digits, underscores and dots.
EVENT_TYPE = re.compile(r"[A-Za-z0-9_.]{1,100}")
MAX_METADATA_BYTES = 8 * 1024


class Params:
    """Typed access to one request's arguments; bad values raise Slack's error codes."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    async def read(cls, request: web.Request) -> Params:
        """Merge the query string and the body (form-encoded or JSON)."""
        values: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                try:
                    body = json.loads(await request.text() or "{}")
                except ValueError:
                    raise ApiFailure("invalid_json") from None
                if not isinstance(body, dict):
                    raise ApiFailure("invalid_json")
                values.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                values.update({k: v for k, v in form.items() if isinstance(v, str)})
        return cls(values)

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return a string argument (numbers are accepted and turned into text)."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise ApiFailure("invalid_arguments", response_metadata={"messages": [name]})
        return value

    def required(self, name: str, code: str = "invalid_arguments") -> str:
        """Return a string argument that must be present, else ``code``."""
        value = self.text(name)
        if value is None:
            raise ApiFailure(code)
        return value

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        """Return an integer argument clamped to ``low..high``, as Slack clamps ``limit``."""
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ApiFailure("invalid_arguments", response_metadata={"messages": [name]}) from None
        return max(low, min(high, value))

    def flag(self, name: str) -> bool:
        """Return a boolean argument (``true``/``1``)."""
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def structured(self, name: str, code: str = "invalid_arguments") -> Any:
        """Return a JSON argument given as an object/array or as a JSON string."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiFailure(code) from None
        return value

    def metadata(self) -> JSON | None:
        """Return the ``metadata`` argument, or raise as Slack does for a malformed one.

        https://docs.slack.dev/messaging/message-metadata/: an object with a string
        ``event_type`` and an object ``event_payload``.
        """
        metadata = self.structured("metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("event_payload"), dict):
            raise ApiFailure("invalid_metadata_format")
        event_type = metadata.get("event_type")
        if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
            raise ApiFailure("invalid_metadata_schema")
        if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
            raise ApiFailure("metadata_too_large")
        return {"event_type": event_type, "event_payload": metadata["event_payload"]}

    def blocks(self) -> list[JSON] | None:
        """Return the ``blocks`` argument, or raise ``invalid_blocks``."""
        blocks = self.structured("blocks", "invalid_blocks")
        if blocks is None:
            return None
        if not isinstance(blocks, list) or not all(
            isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
        ):
            raise ApiFailure("invalid_blocks")
        return blocks

    def view(self) -> JSON:
        """Return the ``view`` argument, or raise ``invalid_arguments``."""
        view = self.structured("view")
        if not isinstance(view, dict):
            raise ApiFailure("invalid_arguments", response_metadata={"messages": ["view"]})
        return view
