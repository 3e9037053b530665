"""The ``python -m tuning`` command line: one module per verb, loaded on demand.

Each verb module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``async def run(args, settings) -> int``. Errors the user can fix print one line on stderr;
settings errors exit 2, other failures exit 1, and nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from tuning.config import load_settings
from tuning.errors import ConfigError, SarcasmError
from tuning.logs import configure_logging

# verb -> module; a verb's module is imported only when it runs (or for --help).
VERBS: dict[str, str] = {
    "classify": "tuning.cli.classify",
    "bootstrap": "tuning.cli.bootstrap",
    "export": "tuning.cli.export",
    "run": "tuning.cli.run",
    "tick": "tuning.cli.tick",
    "status": "tuning.cli.status",
    "jobs": "tuning.cli.jobs",
    "promote": "tuning.cli.promote",
    "rollback": "tuning.cli.rollback",
    "evaluate": "tuning.cli.evaluate",
    "firestore-setup": "tuning.cli.firestore_setup",
    "serve-reward": "tuning.cli.serve_reward",
    "privacy": "tuning.cli.privacy",
}

log = logging.getLogger("tuning.cli")


def _load(verb: str) -> ModuleType | None:
    try:
        return importlib.import_module(VERBS[verb])
    except ModuleNotFoundError as exc:
        if exc.name == VERBS[verb]:
            return None  # listed but not built yet
        raise


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with a sub-parser for every verb that is installed."""
    parser = argparse.ArgumentParser(
        prog="python -m tuning", description="Datasets, tuning jobs and models for sarcasm-bot."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        module = _load(verb)
        if module is None:
            continue
        sub = verbs.add_parser(verb, help=module.HELP, description=module.HELP)
        sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, load settings, run one verb and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    module = _load(args.verb)
    assert module is not None  # the parser only offers installed verbs
    try:
        return int(asyncio.run(module.run(args, settings)))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SarcasmError as exc:
        log.debug("%s failed", args.verb, exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
