"""What the CLI does, as functions the tests call too.

Everything here works on a data directory directly, whether or not a runtime is using it:
SQLite serialises the writes of both processes, and a running runtime notices the CLI's
writes (see `LocalEngine._watch_external_writes`). Nothing here needs the app's code.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluiceway.apigateway import ingest
from sluiceway.awslambda import pausing
from sluiceway.cognito.identity import Identity
from sluiceway.core import attrvalue, naming
from sluiceway.core import traces as tracing
from sluiceway.core.clock import Clock, SystemClock
from sluiceway.core.errors import ConditionalCheckFailed, SluicewayError
from sluiceway.core.store import Store, Tx
from sluiceway.dynamodb import tables
from sluiceway.local.registry import Registry
from sluiceway.sns import opt_outs, outbox, phones, subscriptions
from sluiceway.sqs import moves, queues


@dataclass(frozen=True)
class MappingView:
    function: str
    lane: int
    table: str
    position: int
    behind: int
    oldest_waiting: int | None
    attempts: int
    next_attempt_at: int | None
    last_error: str | None
    updated_at: int


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

    @functools.cached_property
    def identity(self) -> Identity:
        """The app's user pools as it last ran: clients, tokens, signing keys."""
        return Identity(
            app=self.registry.app,
            pools=self.registry.user_pools,
            store=self.store,
            data_dir=self.store.data_dir,
            clock=self.clock,
            region=self.region.region,
        )

    # -- queues -------------------------------------------------------------------------

    def queue_stats(self) -> list[queues.QueueStats]:
        cx = self.store.reader()
        now = self._now_ms()
        return [
            queues.stats(cx, q, now)
            for q in sorted(self.registry.queues.values(), key=lambda q: q.name)
        ]

    def start_redrive(
        self, dlq_name: str, *, to: str | None = None, rate: int | None = None
    ) -> str:
        """StartMessageMoveTask on a dead-letter queue; returns the task's handle. The task
        is run by the runtime if one is up, else by `run_move` here."""
        dlq = self.registry.queue(dlq_name)
        target = None if to is None else self.registry.queue(to)
        return self.store.write(
            lambda tx: moves.start(tx, self.registry, dlq, destination=target, rate=rate)
        )

    def run_move(
        self, handle: str, *, on_progress: Callable[[moves.MoveTask], None] | None = None
    ) -> moves.MoveTask:
        """Carry out move tasks here until `handle` is done (when no runtime would)."""
        owner = f"cli-{os.getpid()}"
        pause = threading.Event()
        while True:
            due = self.store.write(lambda tx: moves.step(tx, self.registry, owner))
            task = self.move_task(handle)
            if on_progress is not None:
                on_progress(task)
            if task.done or due is None:
                return task
            pause.wait(max(0.0, due - self.clock.now()))

    def move_task(self, handle: str) -> moves.MoveTask:
        return moves.task(self.store.reader(), handle)

    def move_tasks(self, queue_name: str | None = None) -> list[moves.MoveTask]:
        queue = None if queue_name is None else self.registry.queue(queue_name)
        return moves.tasks(self.store.reader(), queue)

    def cancel_redrive(self, dlq_name: str) -> str:
        dlq = self.registry.queue(dlq_name)
        return self.store.write(lambda tx: moves.cancel(tx, dlq))

    def redrive(self, dlq_name: str, *, to: str | None = None, rate: int | None = None) -> int:
        """Move every message out of a dead-letter queue and wait for it; returns how many
        moved. (The CLI starts the task and, if a runtime is up, lets it do the work.)"""
        handle = self.start_redrive(dlq_name, to=to, rate=rate)
        return self.run_move(handle).moved

    def purge(
        self,
        queue_name: str,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        chunk: int = 10_000,
    ) -> int:
        """PurgeQueue; returns how many messages went. In commits of `chunk` messages, so a
        runtime keeps answering meanwhile; `on_progress(deleted, total)` after each."""
        queue = self.registry.queue(queue_name)
        last, total = self.store.write(lambda tx: queues.purge_begin(tx, queue))
        deleted = 0
        while count := self.store.write(lambda tx: queues.purge_some(tx, queue, last, chunk)):
            deleted += count
            if on_progress is not None:
                on_progress(deleted, max(total, deleted))
        return deleted

    def send(
        self,
        path: str,
        body: bytes,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """What an HTTP request to a route does, without HTTP (raises `ingest.Rejection`):
        the answer the route gives."""
        route = self.registry.route(method, path)
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        content_type = lowered.get("content-type", "application/json")
        if route.table is not None:
            table = self.registry.table(route.table)
            prepared = ingest.prepare_item(table, route, content_type=content_type, body=body)
            try:
                self.store.write(
                    lambda tx: tables.put(
                        tx, table, prepared.item, if_not_exists=not route.overwrite
                    )
                )
            except ConditionalCheckFailed:
                ingest.reject(
                    409,
                    "ConditionalCheckFailed",
                    f"an item with this key already exists in table '{table.name}'",
                )
            return {"key": prepared.key}
        assert route.queue is not None
        queue = self.registry.queue(route.queue)
        message = ingest.prepare(
            queue,
            route,
            content_type=content_type,
            body=body,
            headers=lowered,
        )
        return self.store.write(lambda tx: queues.send(tx, queue, message))

    # -- tables -------------------------------------------------------------------------

    def put_item(
        self, table_name: str, item: Mapping[str, Any], *, if_not_exists: bool = False
    ) -> dict[str, Any]:
        """PutItem from outside any function (seeding a lookup table); its stream record is
        written as for any put. Returns the item's key."""
        table = self.registry.table(table_name)
        encoded = attrvalue.serialize_item(item)
        tables.check_item(table, encoded)
        self.store.write(lambda tx: tables.put(tx, table, encoded, if_not_exists=if_not_exists))
        key: dict[str, Any] = attrvalue.to_plain_json(
            {name: item[name] for name in table.spec.key_names}
        )
        return key

    def get_item(self, table_name: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        table = self.registry.table(table_name)
        found = tables.get(self.store.reader(), table, tables.key_item(table, key))
        return None if found is None else tables.plain(found)

    def scan(self, table_name: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        table = self.registry.table(table_name)
        for item in tables.scan(self.store.reader(), table, limit=limit):
            yield tables.plain(item)

    # -- deliveries ---------------------------------------------------------------------

    def deliveries(
        self, *, status: str | None = None, limit: int | None = None
    ) -> list[outbox.DeliveryView]:
        return outbox.list_deliveries(self.store.reader(), status=status, limit=limit)

    # -- traces -------------------------------------------------------------------------

    def traces(self, limit: int = 50) -> list[tracing.TraceSummary]:
        """The latest traces, newest first."""
        return self.store.traces.recent(limit)

    def trace(self, trace_id: str) -> list[tracing.Hop]:
        """Every hop of one trace, in order."""
        return self.store.traces.hops(trace_id)

    def stream_mappings(self) -> list[MappingView]:
        """Each stream mapping's lanes: where they stand and what holds them up."""
        cx = self.store.reader()
        views = []
        for name, lane, source, position, attempts, due, last_error, updated in cx.execute(
            "SELECT name, lane, source, position, attempts, next_attempt_at, last_error, "
            "updated_at FROM mappings ORDER BY name, lane"
        ).fetchall():
            table = self.registry.table(source.removeprefix("table:"))
            behind = cx.execute(
                "SELECT COUNT(*), MIN(created_at) FROM stream_records "
                "WHERE table_id = ? AND seq > ?",
                (table.id, position),
            ).fetchone()
            views.append(
                MappingView(
                    name,
                    lane,
                    table.name,
                    position,
                    behind[0],
                    behind[1],
                    attempts,
                    due or None,
                    last_error,
                    updated,
                )
            )
        return views

    def retry_deliveries(self, ids: list[int] | None = None) -> int:
        return self.store.write(lambda tx: outbox.retry_now(tx, ids))

    def confirm(self, token: str) -> str:
        return self.store.write(lambda tx: subscriptions.confirm(tx, token))

    # -- SMS ----------------------------------------------------------------------------

    def sms_opt_out(self, phone: str) -> int:
        """Opt `phone` out; returns how many waiting texts will now not be sent."""
        number = phones.check_phone(phone)
        return self.store.write(lambda tx: opt_outs.opt_out(tx, number))

    def sms_opt_in(self, phone: str) -> bool:
        number = phones.check_phone(phone)
        return self.store.write(lambda tx: opt_outs.opt_in(tx, number))

    def sms_opted_out(self) -> list[tuple[str, int]]:
        return opt_outs.opted_out(self.store.reader())

    # -- mappings and pipes: pause and resume ---------------------------------------------

    def mapping_states(self) -> list[pausing.MappingState]:
        """Every mapping and pipe of the app as it last ran, paused or not."""
        return pausing.states(self.store.reader())

    def pause_mapping(self, name: str) -> bool:
        """Stop a mapping (a function's name) or a pipe (``pipe:NAME`` or NAME) taking
        batches, across restarts too; a running runtime stops within a second. Returns False
        if it was paused already."""
        return self.store.write(lambda tx: pausing.set_paused(tx, name, True))

    def resume_mapping(self, name: str) -> bool:
        """Let a paused mapping or pipe take batches again; False if it was not paused."""
        return self.store.write(lambda tx: pausing.set_paused(tx, name, False))

    def paused(self) -> dict[str, int]:
        """The paused mappings and pipes, and when each was paused (epoch ms)."""
        return pausing.paused(self.store.reader())

    # -- bulk loads -----------------------------------------------------------------------

    def load(
        self,
        table_name: str,
        items: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 500,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """PutItem each of `items` (plain JSON values, numbers as `Decimal`), `batch_size`
        to a commit, each with its stream record; returns how many were put. An item that
        is not valid stops the load (`LoadError` says which, and how many went in before);
        `on_batch(loaded)` after each commit."""
        table = self.registry.table(table_name)
        loaded = 0
        batch: list[attrvalue.Item] = []

        def put_all(tx: Tx) -> None:
            for encoded in batch:
                tables.put(tx, table, encoded, if_not_exists=False)

        for number, item in enumerate(items, 1):
            try:
                encoded = attrvalue.serialize_item(item)
                tables.check_item(table, encoded)
            except (SluicewayError, TypeError, ValueError) as error:
                if batch:
                    self.store.write(put_all)
                    loaded += len(batch)
                raise LoadError(number, loaded, str(error)) from None
            batch.append(encoded)
            if len(batch) >= batch_size:
                self.store.write(put_all)
                loaded += len(batch)
                batch = []
                if on_batch is not None:
                    on_batch(loaded)
        if batch:
            self.store.write(put_all)
            loaded += len(batch)
            if on_batch is not None:
                on_batch(loaded)
        return loaded


class LoadError(SluicewayError):
    """An item of a bulk load was not valid: the load stopped at it."""

    code = "ValidationException"

    def __init__(self, item: int, loaded: int, reason: str) -> None:
        super().__init__(f"item {item}: {reason} ({loaded} item{'s' * (loaded != 1)} loaded)")
        self.item = item
        self.loaded = loaded


def running_runtime(data_dir: Path) -> dict[str, Any] | None:
    """What runtime.json says about the runtime using `data_dir`, if it is alive."""
    path = Path(data_dir) / "runtime.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info
