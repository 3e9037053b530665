"""Files written whole or not at all: a temporary file beside the target, then a rename.

``os.replace`` is atomic on POSIX and Windows when both paths are on one file system, which a
temporary file in the target's own directory guarantees; a reader sees the old file or the new
one, never half of either.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def _temp_beside(path: Path) -> Path:
    """Create an empty, hidden temporary file in ``path``'s directory and return its path."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it over ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_beside(path)
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8, newlines as given) to ``path`` atomically; return ``path``."""
    with replacing(path) as temp:
        temp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _put_back(moved: list[tuple[Path, Path | None]]) -> None:
    """Undo the replacements in ``moved``, newest first: each target gets its backup back."""
    for target, backup in reversed(moved):
        if target.is_file():
            target.unlink()
        if backup is not None:
            os.replace(backup, target)


def write_all_atomic(directory: Path, contents: Mapping[str, bytes]) -> None:
    """Put every file of ``contents`` in ``directory``, or none: on a failure, put back the old."""
    temps: dict[str, Path] = {}
    moved: list[tuple[Path, Path | None]] = []  # (target, backup of what it replaced)
    try:
        for name, data in contents.items():
            temps[name] = _temp_beside(directory / name)
            temps[name].write_bytes(data)
        for name, temp in temps.items():
            target = directory / name
            backup: Path | None = None
            if target.is_file():
                backup = target.with_name(f".{name}.previous")
                os.replace(target, backup)
            moved.append((target, backup))
            os.replace(temp, target)
    except OSError:
        _put_back(moved)
        raise
    finally:
        for leftover in temps.values():
            leftover.unlink(missing_ok=True)
    for _, previous in moved:
        if previous is not None:
            previous.unlink(missing_ok=True)
