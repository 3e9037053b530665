"""What a Firestore database needs before the store runs on it: composite indexes and a TTL policy.

:data:`COMPOSITE_INDEXES` is the one list; ``firestore.indexes.json`` at the repository root is
rendered from it (a test keeps the two equal) for ``firebase deploy --only firestore:indexes``,
and :func:`gcloud_commands` prints the same indexes as ``gcloud`` commands for a database and
collection prefix that the file cannot name.
"""

from __future__ import annotations

import shlex
from typing import Any

# (collection, ((field, "ASCENDING" | "DESCENDING"), ...)): equality fields first.
COMPOSITE_INDEXES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    # iter_interactions(kind=...[, since=...]): kind ==, ordered (and ranged) by created_at
    ("interactions", (("kind", "ASCENDING"), ("created_at", "ASCENDING"))),
    # list_jobs(task=...): task ==, newest first
    ("jobs", (("task", "ASCENDING"), ("created_at", "DESCENDING"))),
    # count_feedback(since=...): retracted == False, updated_at >
    ("feedback", (("retracted", "ASCENDING"), ("updated_at", "ASCENDING"))),
    # count_feedback(kind=..., since=...)
    ("feedback", (("kind", "ASCENDING"), ("retracted", "ASCENDING"), ("updated_at", "ASCENDING"))),
)
TTL_FIELDS = (("claims", "expires_at"),)  # (collection, timestamp field)


def indexes_file() -> dict[str, Any]:
    """Return the contents of ``firestore.indexes.json`` (unprefixed collection names)."""
    return {
        "indexes": [
            {
                "collectionGroup": collection,
                "queryScope": "COLLECTION",
                "fields": [{"fieldPath": path, "order": order} for path, order in fields],
            }
            for collection, fields in COMPOSITE_INDEXES
        ],
        "fieldOverrides": [],
    }


def gcloud_commands(*, project: str, database: str = "(default)", prefix: str = "") -> list[str]:
    """Return the shell commands that create every composite index and TTL policy."""
    scope = [f"--project={project}", f"--database={database}"]
    commands = []
    for collection, fields in COMPOSITE_INDEXES:
        configs = [f"--field-config=field-path={p},order={o.lower()}" for p, o in fields]
        group = f"--collection-group={prefix}{collection}"
        commands.append(
            ["gcloud", "firestore", "indexes", "composite", "create", *scope, group, *configs]
        )
    for collection, field in TTL_FIELDS:
        group = f"--collection-group={prefix}{collection}"
        commands.append(
            [
                "gcloud",
                "firestore",
                "fields",
                "ttls",
                "update",
                field,
                *scope,
                group,
                "--enable-ttl",
            ]
        )
    return [shlex.join(command) for command in commands]
