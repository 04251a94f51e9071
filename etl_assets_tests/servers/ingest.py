"""An ingestion endpoint for the fault server: applies each batch once per idempotency key."""

from __future__ import annotations

import threading

from etl_assets_tests.servers.http import Recorded, Reply


class Ingest:
    """A Deep Lynx-style import endpoint: applies each batch once per Idempotency-Key.

    ``drop_after_apply``: batch numbers whose first delivery is applied, after which the
    connection is dropped without a reply (the client cannot know it succeeded).
    ``reject``: batch numbers answered 422 (the data is refused).
    """

    def __init__(
        self,
        drop_after_apply: set[int] = frozenset(),
        reject: set[int] = frozenset(),
        duplicate_status: int = 200,
        id_field: str = "id",
    ):
        self.id_field = id_field
        self.applied: dict[str, list[dict]] = {}
        self.drop_after_apply = set(drop_after_apply)
        self.reject = set(reject)
        self.duplicate_status = duplicate_status
        self.lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        key = request.headers["idempotency-key"]
        rows = request.json()
        batch = rows[0][self.id_field] // 10 if rows else -1
        with self.lock:
            if key in self.applied:
                return Reply(self.duplicate_status, {"status": "duplicate"})
            if batch in self.reject:
                return Reply(422, {"error": f"row {rows[0][self.id_field]}: bad value"})
            self.applied[key] = rows
            if batch in self.drop_after_apply:
                self.drop_after_apply.discard(batch)
                return Reply(drop=True)
        return Reply(201, {"status": "created"})

    def rows(self) -> list[int]:
        return sorted(r[self.id_field] for batch in self.applied.values() for r in batch)
