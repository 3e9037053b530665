"""Model artifacts on disk: skops files for fitted estimators, JSON for plain data, a sidecar.

A model version is a directory ``DATA_DIR/models/<task>/<version>/`` holding its files and
``meta.json`` (version, kind, training-data fingerprint, metrics, format). skops refuses to load
any type we did not list, so a tampered file cannot run code; a missing, corrupt or unexpected
file raises :class:`ModelError` with one line naming the path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuning.errors import ModelError
from tuning.files import replacing, write_atomic

FORMAT = 1
META_FILE = "meta.json"

# Types a sarcasm-bot pipeline is made of, beyond those skops trusts by default. Anything else in
# a file means it is not one of ours and is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.")


def dump_estimator(obj: object, path: Path) -> None:
    """Save a fitted scikit-learn object with skops, atomically."""
    import skops.io as sio

    with replacing(path) as temp:
        sio.dump(obj, temp)


def load_estimator(path: Path) -> Any:
    """Load a skops file, trusting only scikit-learn, numpy and scipy types; raise ModelError."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises zipfile, json, OSError and type errors alike
        raise ModelError(f"{path}: unreadable model file ({type(exc).__name__})") from exc
    refused = [name for name in untrusted if not name.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelError(f"{path}: refusing unexpected types {', '.join(refused[:3])}")
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as exc:  # the same zoo of errors, from the load itself
        raise ModelError(f"{path}: unreadable model file ({type(exc).__name__})") from exc


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON through a temporary file and a rename."""
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``; raise ModelError naming the path if it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model file ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: unreadable model file (not a JSON object)")
    return data


def write_meta(
    directory: Path, *, version: str, kind: str, fingerprint: str, metrics: Mapping[str, float]
) -> None:
    """Write the sidecar describing the model in ``directory``."""
    write_json(
        directory / META_FILE,
        {
            "format": FORMAT,
            "version": version,
            "kind": kind,
            "fingerprint": fingerprint,
            "metrics": dict(metrics),
        },
    )


def read_meta(directory: Path, *, kind: str) -> dict[str, Any]:
    """Read and check the sidecar in ``directory``; raise ModelError if it is not a ``kind``."""
    meta = read_json(directory / META_FILE)
    if meta.get("kind") != kind or meta.get("format") != FORMAT:
        raise ModelError(f"{directory / META_FILE}: not a format-{FORMAT} {kind} model")
    return meta
