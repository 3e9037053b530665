"""Which composite index a Firestore query needs, and whether ``firestore.indexes.json`` has it.

The emulator serves every query without an index (its ``start --help`` offers no mode that
enforces them), so the tests record the queries the store sends and check them here instead.
The rules follow https://cloud.google.com/firestore/docs/query-data/index-overview: single-field
indexes (automatic, both directions) serve a query on one field and equality-only queries
(by merging them); equality filters combined with a range filter or an order on another field,
or orders on several fields, need a composite index with the equality fields first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud.firestore_v1.types import StructuredQuery

ROOT = Path(__file__).resolve().parents[2]
INDEX_FILE = ROOT / "firestore.indexes.json"
Op = StructuredQuery.FieldFilter.Operator
EQUALITY = {Op.EQUAL, Op.IN, Op.ARRAY_CONTAINS, Op.ARRAY_CONTAINS_ANY}
RANGE = {
    Op.LESS_THAN,
    Op.LESS_THAN_OR_EQUAL,
    Op.GREATER_THAN,
    Op.GREATER_THAN_OR_EQUAL,
    Op.NOT_EQUAL,
    Op.NOT_IN,
}
DIRECTIONS = {StructuredQuery.Direction.ASCENDING: "ASCENDING", 2: "DESCENDING"}


@dataclass(frozen=True)
class Index:
    """A composite index: equality fields (any order) first, then ordered fields."""

    collection: str
    equal: frozenset[str]
    ordered: tuple[tuple[str, str], ...]


def needed_index(query: Any, *, prefix: str = "") -> Index | None:
    """Return the composite index ``query`` (a StructuredQuery) needs, or None."""
    pb = StructuredQuery.pb(query)
    collection = pb.from_[0].collection_id.removeprefix(prefix)
    equal: set[str] = set()
    ranged: set[str] = set()
    for field, op in _field_filters(pb.where):
        if op in EQUALITY:
            equal.add(field)
        elif op in RANGE:
            ranged.add(field)
        else:
            raise ValueError(f"unknown operator {op} on {collection}.{field}")
    orders = [
        (o.field.field_path, DIRECTIONS[o.direction])
        for o in pb.order_by
        if o.field.field_path != "__name__" and o.field.field_path not in equal
    ]
    if ranged and not orders:  # Firestore orders by the inequality field implicitly
        orders = [(field, "ASCENDING") for field in sorted(ranged)]
    if not ranged <= {field for field, _ in orders}:
        raise ValueError(f"{collection}: a range filter on a field it is not ordered by")
    if not equal and len(orders) <= 1:
        return None  # one field: a single-field index
    if not orders:
        return None  # equality only: single-field indexes merge
    return Index(collection, frozenset(equal), tuple(orders))


def _field_filters(where: Any) -> list[tuple[str, int]]:
    kind = where.WhichOneof("filter_type")
    if kind is None:
        return []
    if kind == "field_filter":
        return [(where.field_filter.field.field_path, where.field_filter.op)]
    if kind == "unary_filter":  # IS_NULL and friends behave as equality
        return [(where.unary_filter.field.field_path, Op.EQUAL)]
    if where.composite_filter.op != StructuredQuery.CompositeFilter.Operator.AND:
        raise ValueError("OR filters are not modelled here")
    return [f for sub in where.composite_filter.filters for f in _field_filters(sub)]


def shipped_indexes(path: Path = INDEX_FILE) -> list[Index]:
    """Return the composite indexes declared in ``firestore.indexes.json``."""
    shipped = []
    for index in json.loads(path.read_text())["indexes"]:
        assert index["queryScope"] == "COLLECTION"
        fields = [(f["fieldPath"], f["order"]) for f in index["fields"]]
        shipped.append(Index(index["collectionGroup"], frozenset(), tuple(fields)))
    return shipped


def covers(shipped: Index, needed: Index) -> bool:
    """Return whether the ``shipped`` index serves a query that needs ``needed``."""
    if shipped.collection != needed.collection:
        return False
    head = shipped.ordered[: len(needed.equal)]
    tail = shipped.ordered[len(needed.equal) :]
    return {field for field, _ in head} == needed.equal and tail == needed.ordered
