"""What a Firestore database needs before the store runs on it: indexes and TTL policies.

:data:`COMPOSITE_INDEXES` and :data:`UNINDEXED_FIELDS` are the one list; ``firestore.indexes.json``
at the repository root is rendered from them (a test keeps the two equal) for ``firebase deploy
--only firestore:indexes``, and :func:`gcloud_commands` prints the same indexes as ``gcloud``
commands for a database and collection prefix that the file cannot name, followed by the TTL
policies (https://cloud.google.com/firestore/docs/ttl), which the file leaves alone.
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
# (collection, field) exempt from single-field indexing: a manifest's packed record ids, a bytes
# blob of up to ~900 KB that no query reads and that indexing would only make count against the
# document's limits.
UNINDEXED_FIELDS: tuple[tuple[str, str], ...] = (
    ("manifests", "record_ids"),
    ("manifest_parts", "record_ids"),
)
# (collection, timestamp field): Firestore deletes a document once this time has passed (within
# about a day). Records expire RETENTION_DAYS after they were created; claims when they lapse.
TTL_FIELDS: tuple[tuple[str, str], ...] = (
    ("interactions", "expires_at"),
    ("feedback", "expires_at"),
    ("corrections", "expires_at"),
    ("claims", "expires_at"),
)


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
        "fieldOverrides": [
            {"collectionGroup": collection, "fieldPath": path, "indexes": []}
            for collection, path in UNINDEXED_FIELDS
        ],
    }


def gcloud_commands(*, project: str, database: str = "(default)", prefix: str = "") -> list[str]:
    """Return the shell commands that create every index, index exemption and TTL policy."""
    scope = [f"--project={project}", f"--database={database}"]
    commands = []
    for collection, fields in COMPOSITE_INDEXES:
        configs = [f"--field-config=field-path={p},order={o.lower()}" for p, o in fields]
        group = f"--collection-group={prefix}{collection}"
        commands.append(
            ["gcloud", "firestore", "indexes", "composite", "create", *scope, group, *configs]
        )
    for collection, field in UNINDEXED_FIELDS:
        group = f"--collection-group={prefix}{collection}"
        update = ["gcloud", "firestore", "indexes", "fields", "update", field]
        commands.append([*update, *scope, group, "--disable-indexes"])
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
