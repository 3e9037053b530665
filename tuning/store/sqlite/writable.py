"""Check, before SQLite does, that a database path can be written, and say why not in one line.

SQLite's own message for every such case is "unable to open database file"; users need to know
which path and which reason (read-only file system, a parent that is a file, no permission).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from tuning.errors import StoreError


def prepare_path(path: Path) -> bool:
    """Create ``path``'s directory and an empty database file if missing; return True if created.

    Raise StoreError naming STORE_URL and the path when either cannot be written.
    """
    if str(path) == ":memory:":
        return False
    for ancestor in reversed(path.parents):
        if ancestor.exists() and not ancestor.is_dir():
            _fail(path, f"{ancestor} is not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(path, _reason(exc))
    if path.is_dir():
        _fail(path, "it is a directory")
    try:
        # O_EXCL: create only if absent, so we know whether removing it on failure is ours to do.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # Never open (and close) an existing database to test it: closing any descriptor of a
        # file drops every POSIX lock this process holds on it, so another connection of ours
        # (the bot's queue, a verb's second store) loses its locks, and another process then
        # deletes the WAL it still writes to (https://www.sqlite.org/howtocorrupt.html, 2.2).
        if not os.access(path, os.R_OK | os.W_OK):
            _fail(path, "permission denied")
        return False
    except OSError as exc:
        _fail(path, _reason(exc))
    os.close(fd)
    return True


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _fail(path: Path, reason: str) -> NoReturn:
    raise StoreError(f"STORE_URL: cannot write sqlite database at {path} ({reason})")
