"""What forget-me and retention did, in counts and ids: never a word of anyone's text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tuning.records import Erased, Task


@dataclass(frozen=True)
class Rebuilt:
    """An affected active local model, replaced by ``version`` built without the records."""

    task: Task
    replaced: str
    version: str


@dataclass(frozen=True)
class Flagged:
    """A model version that holds affected data and cannot be untrained (Vertex, OpenAI).

    Admins see it in App Home and ``/sarcasm status`` with a suggested retrain; it is never
    promoted or rolled back to.
    """

    task: Task
    version: str
    backend: str
    state: str = ""


@dataclass(frozen=True)
class Pending:
    """A location that could not be deleted yet, and why; ``tick`` tries it again."""

    location: str
    reason: str


@dataclass(frozen=True)
class Cleanup:
    """What one pass deleted, rebuilt and flagged beyond the store's records."""

    dataset_locations: int = 0  # local dataset and export directories, local upload copies
    cloud_objects: int = 0  # gs:// objects
    artifacts: int = 0  # model artifact directories of retired or replaced versions
    rebuilt: tuple[Rebuilt, ...] = ()
    flagged: tuple[Flagged, ...] = ()
    pending: tuple[Pending, ...] = ()

    def merged(self, other: Cleanup) -> Cleanup:
        """Return the sum of two passes."""
        return Cleanup(
            dataset_locations=self.dataset_locations + other.dataset_locations,
            cloud_objects=self.cloud_objects + other.cloud_objects,
            artifacts=self.artifacts + other.artifacts,
            rebuilt=(*self.rebuilt, *other.rebuilt),
            flagged=(*self.flagged, *other.flagged),
            pending=(*self.pending, *other.pending),
        )

    @property
    def touched(self) -> bool:
        """Return whether anything at all was deleted, rebuilt, flagged or left pending."""
        return bool(
            self.dataset_locations
            or self.cloud_objects
            or self.artifacts
            or self.rebuilt
            or self.flagged
            or self.pending
        )

    def lines(self) -> list[str]:
        """Return one plain line per kind of thing done (counts, versions, reasons)."""
        lines = []
        if self.dataset_locations:
            lines.append(f"Deleted {self.dataset_locations} dataset location(s).")
        if self.cloud_objects:
            lines.append(f"Deleted {self.cloud_objects} cloud object(s).")
        if self.artifacts:
            lines.append(f"Deleted {self.artifacts} model artifact(s).")
        for done in self.rebuilt:
            lines.append(f"Rebuilt the {done.task}: {done.replaced} -> {done.version}.")
        for flag in self.flagged:
            lines.append(
                f"Flagged {flag.task} {flag.version} ({flag.backend}): it cannot be untrained; "
                "retrain and promote a new version."
            )
        for item in self.pending:
            lines.append(
                f"Not deleted yet (retried by the next tick): {item.location}: {item.reason}"
            )
        return lines


@dataclass(frozen=True)
class ForgetReport:
    """What forget-me deleted for one user: store records, then every copy elsewhere."""

    user: str
    records: Erased = field(default_factory=Erased)
    cleanup: Cleanup = field(default_factory=Cleanup)

    @property
    def found(self) -> bool:
        """Return whether anything of the user's was there to delete."""
        return self.records.total > 0 or self.cleanup.touched

    def lines(self) -> list[str]:
        """Return the answer in plain lines: counts, never text."""
        if not self.found:
            return [f"Nothing stored for {self.user}: nothing was deleted."]
        erased = self.records
        head = (
            f"Deleted {erased.total} record(s): {erased.interactions} message(s), "
            f"{erased.feedback} reaction(s), {erased.corrections} correction(s)."
        )
        return [head, *self.cleanup.lines()]


@dataclass(frozen=True)
class RetentionReport:
    """What one retention pass expired: records created before ``cutoff`` and their copies."""

    cutoff: datetime
    records: Erased = field(default_factory=Erased)
    cleanup: Cleanup = field(default_factory=Cleanup)

    def lines(self) -> list[str]:
        """Return what expired in plain lines."""
        erased = self.records
        head = f"Expired {erased.total} record(s) created before {self.cutoff:%Y-%m-%d %H:%M} UTC."
        return [head, *self.cleanup.lines()]
