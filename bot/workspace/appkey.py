"""The aiohttp application key under which the emulator finds its workspace in handlers."""

from typing import Any

from aiohttp import web

# Typed Any because the workspace class imports the handler modules that read this key.
WORKSPACE: web.AppKey[Any] = web.AppKey("workspace")
