"""What the CLI does, as functions the tests call too.

Everything here works on a data directory directly, whether or not a runtime is using it:
SQLite serialises the writes of both processes, and a running runtime notices the CLI's
writes (see `LocalEngine._watch_external_writes`). Nothing here needs the app's code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sluiceway import naming
from sluiceway.clock import Clock, SystemClock
from sluiceway.errors import ValidationError
from sluiceway.local import ingest, queues, tables, topics
from sluiceway.local.registry import QueueInfo, Registry
from sluiceway.local.store import Store

REDRIVE_BATCH = 500


class Admin:
    """An open data directory.

    >>> with Admin(Path(".sluiceway")) as admin:    # doctest: +SKIP
    ...     admin.queue_stats()
    """

    def __init__(
        self, data_dir: Path, *, region: naming.Region | None = None, clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store = Store(Path(data_dir), clock=self.clock, create=False)
        self.region = region or naming.Region()
        self._registry: Registry | None = None

    def __enter__(self) -> Admin:
        self.store.open()
        self._registry = Registry.load(self.store, self.region)
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    @property
    def registry(self) -> Registry:
        assert self._registry is not None, "use Admin as a context manager"
        return self._registry

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # -- queues -------------------------------------------------------------------------

    def queue_stats(self) -> list[queues.QueueStats]:
        cx = self.store.reader()
        now = self._now_ms()
        return [
            queues.stats(cx, q, now)
            for q in sorted(self.registry.queues.values(), key=lambda q: q.name)
        ]

    def dead_letter_sources(self, dlq: QueueInfo) -> list[QueueInfo]:
        return [q for q in self.registry.queues.values() if q.spec.dead_letter == dlq.name]

    def redrive(self, dlq_name: str, *, to: str | None = None) -> int:
        """Move every message out of a dead-letter queue (StartMessageMoveTask): each goes
        back to the queue it came from, or to `to`, as a new message. Returns the count."""
        dlq = self.registry.queue(dlq_name)
        sources = self.dead_letter_sources(dlq)
        if to is None and not sources:
            raise ValidationError(
                f"queue '{dlq_name}' is not the dead-letter queue of any queue; "
                "pass --to QUEUE to move its messages somewhere"
            )
        target = None if to is None else self.registry.queue(to)
        by_source = {q.id: q for q in self.registry.queues.values()}
        moved = 0
        while True:
            count = self.store.write(
                lambda tx: queues.redrive(tx, dlq, by_source, REDRIVE_BATCH, target=target)
            )
            moved += count
            if count < REDRIVE_BATCH:
                return moved

    def purge(self, queue_name: str) -> int:
        queue = self.registry.queue(queue_name)
        return self.store.write(lambda tx: queues.purge(tx, queue))

    def send(
        self,
        path: str,
        body: bytes,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """What an HTTP request to a route does, without HTTP (raises `ingest.Rejection`)."""
        route = self.registry.route(method, path)
        queue = self.registry.queue(route.queue)
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        message = ingest.prepare(
            queue,
            route,
            content_type=lowered.get("content-type", "application/json"),
            body=body,
            headers=lowered,
        )
        self.store.write(lambda tx: queues.send(tx, queue, message))
        return message.response()

    # -- tables -------------------------------------------------------------------------

    def scan(self, table_name: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        table = self.registry.table(table_name)
        for item in tables.scan(self.store.reader(), table, limit=limit):
            yield tables.plain(item)

    # -- deliveries ---------------------------------------------------------------------

    def deliveries(
        self, *, status: str | None = None, limit: int = 1000
    ) -> list[topics.DeliveryView]:
        return topics.list_deliveries(self.store.reader(), status=status, limit=limit)

    def retry_deliveries(self, ids: list[int] | None = None) -> int:
        return self.store.write(lambda tx: topics.retry_now(tx, ids))

    def confirm(self, token: str) -> str:
        return self.store.write(lambda tx: topics.confirm(tx, token))
