"""Fixtures for the local-model tests: a trained seed classifier and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tuning.datasets.basedata import load_seed_messages, load_seed_pairs
from tuning.models.local_classifier import LocalClassifier, train_classifier
from tuning.models.local_generator import LocalGenerator

REPO = Path(__file__).resolve().parents[2]
SHARED_ISARCASM = REPO.parent / "shared/data/isarcasmeval/train.En.csv"


@pytest.fixture(scope="session")
def seed_classifier() -> LocalClassifier:
    """Return a classifier trained on the shipped seed messages (no cross-validation)."""
    seed = load_seed_messages()
    pipeline, _ = train_classifier([m.text for m in seed], [m.label for m in seed], cv_folds=0)
    return LocalClassifier(pipeline, version="clf-test")


@pytest.fixture(scope="session")
def seed_generator() -> LocalGenerator:
    """Return a generator over the shipped seed pairs with the prior reward model."""
    return LocalGenerator(load_seed_pairs(), version="gen-test")


@dataclass
class CliRun:
    """The result of one ``python -m tuning`` subprocess."""

    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Run ``python -m tuning`` in a scratch directory with its own store and data dir."""

    workdir: Path

    @property
    def store_path(self) -> Path:
        return self.workdir / "store.db"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def __call__(self, args: Sequence[str], *, stdin: bytes = b"") -> CliRun:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_", "DATA_"))}
        env |= {
            "STORE_URL": f"sqlite:///{self.store_path}",
            "DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(REPO),
            "MODEL_BACKEND": "local",
        }
        done = subprocess.run(
            [sys.executable, "-m", "tuning", *args],
            input=stdin,
            capture_output=True,
            cwd=self.workdir,
            env=env,
            timeout=240,
            check=False,
        )
        return CliRun(done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Return a CLI runner with a fresh, empty store and data dir."""
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def trained_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Return a CLI runner whose store already has an active seed classifier (trained once)."""
    runner = Cli(tmp_path_factory.mktemp("trained"))
    result = runner(["classify"], stdin=b"warm-up text\n")
    assert result.code == 0, result.stderr
    return runner
