"""Run ``python -m tuning`` in a subprocess, as an auditor would, against a test's store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tuning.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    args: Sequence[str], settings: Settings, *, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run one verb with the settings' DATA_DIR, STORE_URL and TUNING_BUCKET; return its result.

    The emulators' variables (STORAGE_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST) come from the
    test's environment. ``cwd`` has no ``.env``, so nothing else leaks in.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(settings.data_dir),
        "STORE_URL": settings.store_url,
        "TUNING_BUCKET": settings.vertex.bucket,
        "LOG_LEVEL": "INFO",
    }
    return subprocess.run(
        [sys.executable, "-m", "tuning", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
