"""The emulated workspace's people, channels, messages and files, and their Slack JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0001"
TEAM_DOMAIN = "sarcasm-demo"
APP_ID = "A_SARCASM"
BOT_USER_ID = "U_BOT"
BOT_ID = "B_BOT"
YOU = "U_YOU"
ALEX = "U_ALEX"

JSON = dict[str, Any]


@dataclass
class User:
    """A member of the workspace (a human or the bot user)."""

    id: str
    name: str
    real_name: str
    color: str
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False

    def to_api(self) -> JSON:
        """Return the ``users.info`` shape."""
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "color": self.color.lstrip("#"),
            "real_name": self.real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1764000000,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "real_name_normalized": self.real_name,
                "display_name_normalized": self.name,
                "team": TEAM_ID,
                **({"bot_id": BOT_ID, "api_app_id": APP_ID} if self.is_bot else {}),
            },
        }


@dataclass
class Channel:
    """A public or private channel, or a direct message with the bot."""

    id: str
    name: str
    members: set[str]
    is_private: bool = False
    is_im: bool = False
    topic: str = ""
    created: int = 1764000000

    @property
    def channel_type(self) -> str:
        """Return the ``channel_type`` Slack puts on message events."""
        return "im" if self.is_im else ("group" if self.is_private else "channel")

    def to_api(self, *, viewer: str) -> JSON:
        """Return the ``conversations.info`` shape as ``viewer`` sees it."""
        if self.is_im:
            other = next(iter(self.members - {viewer}), viewer)
            return {"id": self.id, "is_im": True, "user": other, "created": self.created}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": YOU,
            "topic": {"value": self.topic, "creator": YOU, "last_set": self.created},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(self.members),
        }


@dataclass
class File:
    """An uploaded file; its bytes are served by the emulator at ``url_private``."""

    id: str
    name: str
    title: str
    user: str
    length: int
    created: int
    url_private: str
    data: bytes | None = None
    alt_txt: str = ""

    @property
    def mimetype(self) -> str:
        """Guess the MIME type from the file name, as Slack does."""
        ext = self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        types = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}
        return types.get(
            ext, "text/plain" if ext in ("txt", "csv", "md") else "application/octet-stream"
        )

    def to_api(self) -> JSON:
        """Return the file object Slack puts in API responses and messages."""
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "",
            "user": self.user,
            "user_team": TEAM_ID,
            "size": len(self.data) if self.data is not None else self.length,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "url_private": self.url_private,
            "url_private_download": self.url_private + "?download=1",
            "permalink": self.url_private,
            "alt_txt": self.alt_txt,
        }


@dataclass
class Message:
    """A channel message or thread reply."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    files: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited_ts: str | None = None
    client_msg_id: str | None = None
    metadata: JSON | None = None
    # Started with chat.startStream and not yet stopped: only its author may append to it.
    streaming: bool = False

    @property
    def is_reply(self) -> bool:
        """Return whether this message is a reply inside someone else's thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    """A message only one user sees; it is never stored by Slack beyond their session."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    thread_ts: str | None = None
    sender: str = BOT_USER_ID


def default_users() -> list[User]:
    """Return the workspace's members: you (an admin), Alex and the bot."""
    return [
        User(YOU, "sam", "Sam Carter", "#2b6cb0", is_admin=True, is_owner=True),
        User(ALEX, "alex", "Alex Kim", "#c05621"),
        User(BOT_USER_ID, "sarcasm-bot", "Sarcasm Bot", "#6b46c1", is_bot=True),
    ]


def default_channels() -> list[Channel]:
    """Return the workspace's channels and the DMs each person has with the bot."""
    everyone = {YOU, ALEX, BOT_USER_ID}
    return [
        Channel("C_GENERAL", "general", set(everyone), topic="Company-wide chatter"),
        Channel("C_RANDOM", "random", set(everyone), topic="Non-work banter"),
        Channel("C_WATERCOOLER", "watercooler", {YOU, ALEX}, topic="The bot is not here"),
        Channel("G_PRIVATE", "private-stuff", {YOU, ALEX}, is_private=True),
        Channel("D_YOU", "sarcasm-bot", {YOU, BOT_USER_ID}, is_im=True),
        Channel("D_ALEX", "sarcasm-bot", {ALEX, BOT_USER_ID}, is_im=True),
    ]
