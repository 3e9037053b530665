"""Delete what a manifest's locations name: local directories and files, or objects in GCS.

Deleting is idempotent: a location that is already gone counts as deleted (and returns False, so
nothing is counted twice). A location that cannot be deleted raises a one-line error that
becomes the manifest's ``pending`` reason.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from tuning.cloud.uploads import DatasetUploader
from tuning.errors import BackendError, SarcasmError

CLOUD = "gs://"
PENDING_SEPARATOR = "\t"


def is_cloud(location: str) -> bool:
    """Return whether ``location`` is an object in GCS rather than a local path."""
    return location.startswith(CLOUD)


def pending_entry(location: str, reason: str) -> str:
    """Return a ``Manifest.pending`` entry: the location and why it is not deleted yet."""
    return f"{location}{PENDING_SEPARATOR}{' '.join(reason.split())}"


def split_pending(entry: str) -> tuple[str, str]:
    """Return the (location, reason) of a ``Manifest.pending`` entry."""
    location, _, reason = entry.partition(PENDING_SEPARATOR)
    return location, reason


async def delete_location(location: str, objects: DatasetUploader | None) -> bool:
    """Delete a directory, file or object; return False if it was already gone.

    Raise :class:`SarcasmError` (its message is the reason) when it cannot be deleted.
    """
    if is_cloud(location):
        if objects is None or not objects.holds(location):
            raise BackendError(f"no GCS client for {location.split('/')[2]}: set TUNING_BUCKET")
        return await objects.delete(location)
    return await asyncio.to_thread(_delete_path, Path(location))


def _delete_path(path: Path) -> bool:
    # A manifest names absolute paths under DATA_DIR or an upload folder; refusing anything
    # shorter keeps a corrupted manifest from emptying a disk.
    if not path.is_absolute() or len(path.parts) < 3:
        raise SarcasmError(f"refusing to delete {path}: not an absolute data path")
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SarcasmError(f"could not delete {path}: {exc.strerror or exc}") from exc
    return True
