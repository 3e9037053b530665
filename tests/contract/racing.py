"""Run two OS processes that start the same work at the same moment, and collect their output."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def race(script: str, path: Path) -> list[Any]:
    """Run ``script`` as processes "a" and "b" on ``path``; return each one's JSON output.

    Both wait for the same start time (2 s ahead), so their work really overlaps. Neither is
    left running for a later test to trip on, whatever happens.
    """
    start = time.time() + 2.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(start), name],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert all(worker.returncode == 0 for worker in workers)
    return [json.loads(output) for output in outputs]
