"""Find ``../shared/data``, which lives beside the repository, not in it.

The main checkout (``/work/main``) has it at ``../shared/data``; a git worktree placed deeper
(``/work/wt/<name>``) has it further up, so every ancestor of the repository root is tried,
nearest first.

>>> shared_data("isarcasmeval/train.En.csv", root=Path("/nonexistent/repo"))
PosixPath('/nonexistent/shared/data/isarcasmeval/train.En.csv')
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISARCASMEVAL = "isarcasmeval/train.En.csv"


def shared_data(relative: str, *, root: Path = ROOT) -> Path:
    """Return ``shared/data/<relative>`` beside the nearest ancestor of ``root`` that has it.

    When no ancestor has it, return where the main checkout would keep it (``../shared/data``
    of ``root``), for the caller's "not found" line.
    """
    for parent in root.parents:
        candidate = parent / "shared/data" / relative
        if candidate.is_file():
            return candidate
    return root.parent / "shared/data" / relative
