"""Where tuning datasets are uploaded before a job reads them: GCS, or a local directory.

Object names are content-addressed (the SHA-256 of the file), so uploading the same bytes twice
is a no-op and an object, once written, never changes. GCS writes an object atomically when its
upload completes, so a failed upload leaves nothing that a job could reference.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import shutil
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
    """Store dataset files where a tuning job can read them."""

    @abc.abstractmethod
    async def upload(self, path: Path) -> str:
        """Store ``path`` under its content hash and return its URI; same bytes again: no-op."""


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

    async def upload(self, path: Path) -> str:
        """Upload ``path`` off the event loop unless an object with its hash already exists."""
        return await asyncio.to_thread(self._upload, path)

    def _upload(self, path: Path) -> str:
        digest = file_digest(path)
        name = "/".join(p for p in (self.prefix, "datasets", f"{digest}{path.suffix}") if p)
        uri = f"gs://{self.bucket_name}/{name}"
        blob = self._client.bucket(self.bucket_name).blob(name)
        try:
            if blob.exists():
                return uri
            # if_generation_match=0: create only; a concurrent upload of the same bytes wins.
            blob.upload_from_filename(
                str(path), content_type="application/jsonl", if_generation_match=0
            )
        except gexc.PreconditionFailed:
            return uri
        except gexc.Forbidden as exc:
            raise BackendError(
                f"GCS refused access to gs://{self.bucket_name} (403): give the service account "
                "roles/storage.objectAdmin on the bucket"
            ) from exc
        except gexc.NotFound as exc:
            raise BackendError(f"GCS bucket gs://{self.bucket_name} does not exist") from exc
        except gexc.GoogleAPICallError as exc:
            raise BackendError(f"GCS upload of {path.name} failed ({exc.code})") from exc
        return uri


class LocalDirUploader(DatasetUploader):
    """Copy datasets into a local directory, named by content hash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    async def upload(self, path: Path) -> str:
        """Copy ``path`` off the event loop unless a file with its hash is already there."""
        return await asyncio.to_thread(self._upload, path)

    def _upload(self, path: Path) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"{file_digest(path)}{path.suffix}"
        if not target.exists():
            # Copy to a temporary name, then rename: a reader never sees half a file.
            with replacing(target) as temp:
                shutil.copyfile(path, temp)
        return str(target)
