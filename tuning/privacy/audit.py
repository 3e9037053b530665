"""Find where a user's text still lives: store rows, DATA_DIR files (inside archives too), GCS.

The needles are the user's texts the store still holds (the messages they wrote, their
corrections) plus any phrase the auditor gives. A finding names a place, never the text found
there, so an audit's output and logs are safe to share.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuning.cloud.uploads import DatasetUploader
from tuning.records import correction_id
from tuning.store.base import Store

Place = Literal["store", "file", "object", "manifest"]
Progress = Callable[[str], None]  # called with the place about to be searched
MIN_NEEDLE = 4  # shorter phrases ("ok", "lol") match everywhere and prove nothing


@dataclass(frozen=True)
class Finding:
    """One place that still holds the user's text (or records of them)."""

    place: Place
    where: str


@dataclass(frozen=True)
class Needles:
    """The byte patterns a user's texts take in files: as written, lower-cased, JSON-escaped."""

    patterns: tuple[bytes, ...]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Needles:
        """Return the needles for ``texts``, skipping those too short to mean anything."""
        kept = tuple(dict.fromkeys(t.strip() for t in texts if len(t.strip()) >= MIN_NEEDLE))
        forms: dict[bytes, None] = {}
        for text in kept:
            for form in (
                text,
                text.lower(),  # vectorizers and normalised keys lower-case
                json.dumps(text)[1:-1],  # inside JSON with ensure_ascii
                json.dumps(text, ensure_ascii=False)[1:-1],
            ):
                forms[form.encode("utf-8")] = None
            for form in (text, text.lower()):
                forms[form.encode("utf-32-le")] = None  # numpy string arrays in .skops archives
        return cls(patterns=tuple(forms), texts=kept)

    def in_bytes(self, data: bytes) -> bool:
        """Return whether any needle occurs in ``data``."""
        return any(pattern in data for pattern in self.patterns)

    def in_text(self, text: str) -> bool:
        """Return whether any needle occurs in ``text`` (case-insensitively)."""
        folded = text.lower()
        return any(needle.lower() in folded for needle in self.texts)


async def user_texts(store: Store, *, user: str) -> list[str]:
    """Return the texts the store holds that ``user`` wrote: messages and corrections."""
    texts = [i.input_text async for i in store.iter_interactions() if i.author == user]
    texts += [c.text async for c in store.iter_corrections() if c.user == user]
    return texts


@dataclass(frozen=True)
class Audit:
    """Where the user's text remains, and how many texts were searched for (0: files unsearched)."""

    found: tuple[Finding, ...]
    texts: int

    @property
    def clean(self) -> bool:
        """Return whether nothing was found."""
        return not self.found


async def audit(
    store: Store,
    *,
    user: str,
    data_dir: Path,
    objects: DatasetUploader | None = None,
    texts: Sequence[str] = (),
    progress: Progress | None = None,
) -> Audit:
    """Return every place that still holds ``user``'s records or text."""
    needles = Needles.of([*await user_texts(store, user=user), *texts])
    found = await search_store(store, user=user, needles=needles)
    found += await search_manifests(store, user=user)
    found += await asyncio.to_thread(search_files, data_dir, needles, progress)
    if objects is not None:
        found += await search_objects(objects, needles, progress)
    return Audit(found=tuple(found), texts=len(needles.texts))


async def search_store(store: Store, *, user: str, needles: Needles) -> list[Finding]:
    """Return the store rows by, caused by, or quoting the user."""
    found = []
    async for item in store.iter_interactions():
        candidates = [candidate.text for candidate in item.candidates]
        quoted = needles.in_text(" ".join([item.input_text, item.output, *candidates]))
        if item.author == user or item.user == user or quoted:
            role = "author" if item.author == user else "actor" if item.user == user else "text"
            found.append(Finding("store", f"interaction {item.id} ({role})"))
    async for feedback in store.iter_feedback(include_retracted=True):
        if feedback.user == user:
            found.append(Finding("store", f"feedback on {feedback.interaction_id}"))
    async for correction in store.iter_corrections():
        if correction.user == user or needles.in_text(correction.text):
            key = correction_id(interaction_id=correction.interaction_id, user=correction.user)
            found.append(Finding("store", f"correction {key}"))
    return found


async def search_manifests(store: Store, *, user: str) -> list[Finding]:
    """Return the manifests that list the user's live records and still have copies of them."""
    live = {i.id async for i in store.iter_interactions() if i.author == user}
    live |= {
        correction_id(interaction_id=c.interaction_id, user=c.user)
        async for c in store.iter_corrections()
        if c.user == user
    }
    return [
        Finding("manifest", manifest.id)
        for manifest in await store.list_manifests()
        if manifest.record_ids & live and (manifest.locations or manifest.pending)
    ]


def search_files(
    data_dir: Path, needles: Needles, progress: Progress | None = None
) -> list[Finding]:
    """Return the files under ``data_dir`` (and the members of zip archives) holding a needle."""
    if not needles.patterns or not data_dir.is_dir():
        return []
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if progress:
            progress(str(path))
        try:
            data = path.read_bytes()
        except OSError:
            continue  # vanished or unreadable while we walked: nothing to report from it
        found += [Finding("file", where) for where in _search_bytes(str(path), data, needles)]
    return found


async def search_objects(
    objects: DatasetUploader, needles: Needles, progress: Progress | None = None
) -> list[Finding]:
    """Return the uploaded objects that hold a needle."""
    if not needles.patterns:
        return []
    found = []
    for uri in await objects.list_objects():
        if progress:
            progress(uri)
        data = await objects.read(uri)
        if data is not None and _search_bytes(uri, data, needles):
            found.append(Finding("object", uri))
    return found


def _search_bytes(name: str, data: bytes, needles: Needles) -> list[str]:
    """Return ``name``, or ``name!member`` inside a zip (.skops files are), if it holds a needle."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return [
                    f"{name}!{member}"
                    for member in archive.namelist()
                    if needles.in_bytes(archive.read(member))
                ]
        except (zipfile.BadZipFile, OSError, EOFError):
            pass  # not really an archive: search it as plain bytes
    return [name] if needles.in_bytes(data) else []
