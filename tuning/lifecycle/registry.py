"""Registry actions with an audit trail: register a candidate, promote, roll back.

Every promotion and rollback goes through here (the CLI, `/sarcasm`, App Home and finished
jobs), so each writes one audit record of one shape: ``actor`` (a Slack user id, ``cli`` or
``job <id>``), ``action`` (``promote <task>`` / ``rollback <task>``), ``result`` (the version
now active, or ``nothing``) and ``detail`` (``reason`` for a promotion, ``from`` for a rollback).
A version whose manifest is affected (built from forgotten or expired data) is never promoted,
and a rollback passes over it.

Every bot process follows the active versions by polling (``LiveModels.run_polling``), so a
promotion or rollback here reaches every replica within ``REGISTRY_POLL_SECONDS``.
"""

from __future__ import annotations

from typing import Literal

from tuning.errors import ConflictError, NotFoundError
from tuning.lifecycle.tracing import affected_by
from tuning.records import AuditEntry, ModelVersion, Task
from tuning.store.base import Store

# The reason recorded when a person, not an evaluation, chose the version.
BY_HAND = "promoted by hand"


def audit_action(verb: Literal["promote", "rollback"], task: Task) -> str:
    """Return the audit action of a registry change.

    >>> audit_action("promote", "classifier")
    'promote classifier'
    """
    return f"{verb} {task}"


async def register_candidate(store: Store, model: ModelVersion) -> ModelVersion:
    """Register ``model`` as a candidate, or return the stored one if it is already there."""
    try:
        await store.add_model(model)
    except ConflictError:
        existing = await store.get_model(task=model.task, version=model.version)
        if existing is None:
            raise
        return existing
    return model


async def promote(
    store: Store, *, task: Task, version: str, actor: str, reason: str
) -> ModelVersion:
    """Make ``version`` the active ``task`` model and audit it; raise NotFoundError if unknown.

    Raise ConflictError for a version built from forgotten or expired data (its manifest says so).
    """
    affected = await affected_by(store, task=task, version=version)
    if affected:
        raise ConflictError(
            f"{task} {version} was built from {affected} data and is never served again; "
            "retrain for a clean model"
        )
    model = await store.promote(task=task, version=version)
    await store.add_audit(
        AuditEntry(
            actor=actor,
            action=audit_action("promote", task),
            result=version,
            detail={"reason": reason},
        )
    )
    return model


async def rollback(store: Store, *, task: Task, actor: str) -> ModelVersion:
    """Reactivate the previously active ``task`` version and audit it."""
    current = await store.active_model(task=task)
    detail = {"from": current.version if current else None}
    try:
        model = await store.rollback(task=task)
    except NotFoundError:
        await store.add_audit(
            AuditEntry(
                actor=actor, action=audit_action("rollback", task), result="nothing", detail=detail
            )
        )
        raise
    await store.add_audit(
        AuditEntry(
            actor=actor, action=audit_action("rollback", task), result=model.version, detail=detail
        )
    )
    return model
