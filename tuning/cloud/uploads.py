"""Where tuning datasets are uploaded before a job reads them: GCS, or a local directory.

Object names are content-addressed (the SHA-256 of the file), so uploading the same bytes twice
is a no-op and an object, once written, never changes. GCS writes an object atomically when its
upload completes, so a failed upload leaves nothing that a job could reference. Forget-me and
retention delete objects (:meth:`DatasetUploader.delete`); the privacy audit lists and reads
every object under the uploader's prefix.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc

from tuning.errors import BackendError
from tuning.files import replacing

if TYPE_CHECKING:
    import google.cloud.storage as storage  # type: ignore[import-untyped]

    from tuning.config import VertexSettings

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class DatasetUploader(abc.ABC):
    """Store dataset files where a tuning job can read them, and delete or list them again.

    Implementations write the blocking steps (``_upload``, ``_delete``, ``_list``, ``_read``);
    the async methods run them off the event loop.
    """

    async def upload(self, path: Path) -> str:
        """Store ``path`` under its content hash and return its URI; same bytes again: no-op."""
        return await asyncio.to_thread(self._upload, path)

    async def delete(self, uri: str) -> bool:
        """Delete the object ``uri``; return False if it was not there (deleting is idempotent)."""
        return await asyncio.to_thread(self._delete, uri)

    async def list_objects(self) -> list[str]:
        """Return the URI of every object under this uploader's prefix, sorted."""
        return await asyncio.to_thread(self._list)

    async def read(self, uri: str) -> bytes | None:
        """Return the bytes of the object ``uri``, or None if it is not there."""
        return await asyncio.to_thread(self._read, uri)

    @abc.abstractmethod
    def holds(self, uri: str) -> bool:
        """Return whether ``uri`` names a place this uploader writes to (its bucket or folder)."""

    @abc.abstractmethod
    def _upload(self, path: Path) -> str: ...

    @abc.abstractmethod
    def _delete(self, uri: str) -> bool: ...

    @abc.abstractmethod
    def _list(self) -> list[str]: ...

    @abc.abstractmethod
    def _read(self, uri: str) -> bytes | None: ...


class GcsUploader(DatasetUploader):
    """Upload to ``gs://BUCKET/PREFIX/datasets/SHA256.jsonl`` with a ready storage client."""

    def __init__(self, bucket_url: str, client: storage.Client) -> None:
        if not bucket_url.startswith("gs://") or len(bucket_url) <= len("gs://"):
            raise BackendError(f"{bucket_url!r} is not gs://BUCKET[/PREFIX]")
        bucket, _, prefix = bucket_url.removeprefix("gs://").partition("/")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @classmethod
    def from_settings(cls, vertex: VertexSettings) -> GcsUploader:
        """Build an uploader for ``TUNING_BUCKET`` (the client honours STORAGE_EMULATOR_HOST)."""
        import google.cloud.storage as storage
        from google.auth.exceptions import DefaultCredentialsError

        try:
            client = storage.Client(project=vertex.project or None)
        except DefaultCredentialsError as exc:
            raise BackendError(
                "no Google Cloud credentials for GCS: run `gcloud auth application-default "
                "login` or set GOOGLE_APPLICATION_CREDENTIALS"
            ) from exc
        return cls(vertex.bucket, client)

    def _upload(self, path: Path) -> str:
        digest = file_digest(path)
        name = "/".join(p for p in (self.prefix, "datasets", f"{digest}{path.suffix}") if p)
        uri = f"gs://{self.bucket_name}/{name}"
        blob = self._client.bucket(self.bucket_name).blob(name)
        with self._refusals(f"upload of {path.name}"):
            try:
                if blob.exists():
                    return uri
                # if_generation_match=0: create only; a concurrent upload of the same bytes wins.
                blob.upload_from_filename(
                    str(path), content_type="application/jsonl", if_generation_match=0
                )
            except gexc.PreconditionFailed:
                return uri
        return uri

    def holds(self, uri: str) -> bool:
        """Return whether ``uri`` is an object in this uploader's bucket."""
        return uri.startswith(f"gs://{self.bucket_name}/")

    def _delete(self, uri: str) -> bool:
        blob = self._client.bucket(self.bucket_name).blob(self._name(uri))
        with self._refusals(f"delete of {uri}"):
            try:
                blob.delete()
            except gexc.NotFound:
                return False
        return True

    def _list(self) -> list[str]:
        prefix = f"{self.prefix}/" if self.prefix else None
        with self._refusals(f"listing of gs://{self.bucket_name}"):
            blobs = self._client.list_blobs(self.bucket_name, prefix=prefix)
            return sorted(f"gs://{self.bucket_name}/{blob.name}" for blob in blobs)

    def _read(self, uri: str) -> bytes | None:
        blob = self._client.bucket(self.bucket_name).blob(self._name(uri))
        with self._refusals(f"download of {uri}"):
            try:
                data: bytes = blob.download_as_bytes()
            except gexc.NotFound:
                return None
        return data

    def _name(self, uri: str) -> str:
        if not self.holds(uri):
            raise BackendError(f"{uri} is not in gs://{self.bucket_name}")
        return uri.removeprefix(f"gs://{self.bucket_name}/")

    @contextmanager
    def _refusals(self, what: str) -> Iterator[None]:
        """Turn what GCS refuses into one clear BackendError saying what was refused.

        A missing object is each caller's own business (caught inside), so a NotFound that
        gets this far means the bucket.
        """
        try:
            yield
        except gexc.Forbidden as exc:
            raise BackendError(
                f"GCS refused access to gs://{self.bucket_name} (403): give the service "
                "account roles/storage.objectAdmin on the bucket"
            ) from exc
        except gexc.NotFound as exc:
            raise BackendError(f"GCS bucket gs://{self.bucket_name} does not exist") from exc
        except gexc.GoogleAPICallError as exc:
            raise BackendError(f"GCS {what} failed ({exc.code})") from exc


class LocalDirUploader(DatasetUploader):
    """Copy datasets into a local directory, named by content hash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _upload(self, path: Path) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"{file_digest(path)}{path.suffix}"
        if not target.exists():
            # Copy to a temporary name, then rename: a reader never sees half a file.
            with replacing(target) as temp:
                shutil.copyfile(path, temp)
        return str(target)

    def holds(self, uri: str) -> bool:
        """Return whether ``uri`` is a file in this uploader's folder."""
        return Path(uri).resolve().parent == self.path.resolve()

    def _delete(self, uri: str) -> bool:
        try:
            self._file(uri).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise BackendError(f"could not delete {uri}: {exc.strerror or exc}") from exc
        return True

    def _list(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(str(p) for p in self.path.iterdir() if p.is_file())

    def _read(self, uri: str) -> bytes | None:
        try:
            return self._file(uri).read_bytes()
        except FileNotFoundError:
            return None

    def _file(self, uri: str) -> Path:
        if not self.holds(uri):
            raise BackendError(f"{uri} is not in {self.path}")
        return Path(uri)
