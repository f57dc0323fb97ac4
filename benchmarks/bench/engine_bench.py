"""The engine alone, in one process: sluiceway.local's store and ops, no HTTP.

* queue: a producer and a consumer on one event loop, both in batches (SendMessageBatch of
  B, ReceiveMessage of B, DeleteMessageBatch of B), each batch one awaited op, so their ops
  share group commits as they do in the runtime. Once with an empty queue, once with
  100,000 messages waiting in front of them.
* the claim query's plan (EXPLAIN QUERY PLAN) on the queue with the backlog.
* table: PutItem on the orders table (stream NEW_IMAGE), W writers of B items per op; every
  write also writes its stream record. And the path a handler takes today: the handle's
  ``put_item``, one item per call, one caller.
* patterns: the seed's filter against a DynamoDB stream record.
* environments: invocations/s of a handler that does nothing, and the cost of one handle
  call, with handlers on threads of the runtime and in execution environments of their own
  (the channel's round trip), in the same run.

    python -m bench.engine_bench --messages 20000 --trials 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from bench.common import SEED_ORDER, fresh_dir

BODY = SEED_ORDER.decode()
SEED_PATTERN = {"dynamodb": {"NewImage": {"phone": {"S": [{"prefix": "+91"}]}}}}
SENDER = "AIDABENCHMARK"


def _prepare() -> Callable[..., Any]:
    """`prepare` (validation of an outgoing message), wherever this version keeps it."""
    for name in ("sluiceway.sqs.messages", "sluiceway.sqs.queues"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "prepare"):
                return module.prepare  # type: ignore[no-any-return]
    raise ImportError("no prepare() in sluiceway.sqs.messages or sluiceway.sqs.queues")


class Bench:
    def __init__(self, data_dir: Path) -> None:
        from sluiceway.blueprints.orders import app
        from sluiceway.core.settings import Settings
        from sluiceway.local.engine import LocalEngine

        self.app = app
        self.engine = LocalEngine(app, Settings(data_dir=data_dir, auto_confirm=True)).open()
        registry = self.engine.registry
        assert registry is not None
        self.store = self.engine.store
        self.queue = registry.queue("POC-Queue")
        self.table = registry.table("orders")
        self.prepare = _prepare()

    def close(self) -> None:
        self.engine.close()

    # -- queue ---------------------------------------------------------------------------

    def fill(self, count: int, chunk: int = 2000) -> None:
        from sluiceway.sqs import queues

        queue, prepare = self.queue, self.prepare
        for start in range(0, count, chunk):
            messages = [
                prepare(queue, BODY, sender_id=SENDER) for _ in range(min(chunk, count - start))
            ]
            self.store.write(lambda tx, ms=messages: [queues.send(tx, queue, m) for m in ms])

    async def send_receive_delete(self, total: int, batch: int) -> float:
        """messages/s through send + receive + delete, producer and consumer concurrent."""
        from sluiceway.sqs import queues

        queue, prepare, store = self.queue, self.prepare, self.store
        produced = asyncio.Event()
        producing = True

        async def producer() -> None:
            nonlocal producing
            for _ in range(0, total, batch):
                messages = [prepare(queue, BODY, sender_id=SENDER) for _ in range(batch)]
                await store.awrite(lambda tx, ms=messages: [queues.send(tx, queue, m) for m in ms])
                produced.set()
            producing = False

        async def consumer() -> None:
            received = 0
            while received < total:
                taken = await store.awrite(lambda tx: queues.claim(tx, queue, batch))
                if not taken:
                    produced.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(produced.wait(), 0.01 if producing else 0.001)
                    continue
                receipts = [m.receipt for m in taken]
                await store.awrite(
                    lambda tx, rs=receipts: [queues.delete(tx, queue, r) for r in rs]
                )
                received += len(taken)

        started = time.perf_counter()
        await asyncio.gather(producer(), consumer())
        return total / (time.perf_counter() - started)

    def waiting(self) -> int:
        cx = self.store.reader()
        row = cx.execute("SELECT COUNT(*) FROM messages WHERE queue_id = ?", (self.queue.id,))
        return int(row.fetchone()[0])

    def claim_plan(self) -> list[str]:
        from sluiceway.sqs import queues

        sql: str = queues._CLAIM
        params: tuple[Any, ...] = (self.queue.id, int(time.time() * 1000), 10)
        rows = self.store.reader().execute("EXPLAIN QUERY PLAN " + sql, params[: sql.count("?")])
        return [str(row[3]) for row in rows]

    # -- table ---------------------------------------------------------------------------

    def _item(self) -> dict[str, Any]:
        order_id = str(uuid.uuid4())
        return {
            "orderID": {"S": order_id},
            "order": {"S": BODY},
            "messageId": {"S": order_id},
            "receivedAt": {"N": str(int(time.time() * 1000))},
        }

    async def table_writes(self, total: int, batch: int, writers: int) -> float:
        """items/s (each with its stream record) with `writers` concurrent batched ops."""
        from sluiceway.dynamodb import tables

        table, store = self.table, self.store

        async def writer(count: int) -> None:
            for _ in range(0, count, batch):
                items = [self._item() for _ in range(batch)]
                await store.awrite(
                    lambda tx, its=items: [
                        tables.put(tx, table, item, if_not_exists=True) for item in its
                    ]
                )

        started = time.perf_counter()
        await asyncio.gather(*(writer(total // writers) for _ in range(writers)))
        return (total // writers * writers) / (time.perf_counter() - started)

    def stream_records(self) -> int:
        cx = self.store.reader()
        row = cx.execute("SELECT COUNT(*) FROM stream_records WHERE table_id = ?", (self.table.id,))
        return int(row.fetchone()[0])

    def handle_puts(self, seconds: float) -> float:
        """items/s through the public handle, one put_item at a time (POC-Lambda-1's way)."""
        from sluiceway.blueprints.orders import orders

        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            orders.put_item(
                {"orderID": str(uuid.uuid4()), "order": BODY, "receivedAt": 1}, if_not_exists=True
            )
            done += 1
        return done / (time.perf_counter() - started)


def environments(seconds: float) -> dict[str, Any]:
    """Per isolation: invocations/s of a no-op handler, and microseconds per handle call
    (a handler making 200 get_item calls, less the no-op's time)."""
    import tempfile

    from sluiceway.app.loader import load_app
    from sluiceway.core.settings import Settings
    from sluiceway.local.engine import LocalEngine

    app = load_app("bench.channel_app:app")
    found: dict[str, Any] = {}
    for isolation in ("thread", "process"):
        with tempfile.TemporaryDirectory() as data:
            engine = LocalEngine(app, Settings(data_dir=Path(data), isolation=isolation)).open()
            try:
                noop, calls = app.graph.function("noop"), app.graph.function("calls")
                engine.invoker.invoke(noop, {})  # the cold start, not measured
                engine.invoker.invoke(calls, {"n": 1})
                count, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds:
                    assert engine.invoker.invoke(noop, {}).ok
                    count += 1
                per_invoke = (time.perf_counter() - started) / count
                rounds, started = 0, time.perf_counter()
                while time.perf_counter() - started < seconds:
                    assert engine.invoker.invoke(calls, {"n": 200}).ok
                    rounds += 1
                per_round = (time.perf_counter() - started) / rounds
            finally:
                engine.close()
        found[isolation] = {
            "invocations_per_s": 1 / per_invoke,
            "us_per_handle_call": 1e6 * (per_round - per_invoke) / 200,
        }
    return found


def pattern_matches(count: int) -> dict[str, float]:
    """matches/s of the seed pattern (ESM rules) on a matching and a non-matching record."""
    from sluiceway.core import events
    from sluiceway.patterns import compile_pattern

    pattern = compile_pattern(SEED_PATTERN, context="esm")

    def record(phone: str) -> dict[str, Any]:
        image = {"orderID": {"S": "o-1"}, "phone": {"S": phone}, "item": {"S": "latex gloves"}}
        return events.dynamodb_record(
            event_id="e1",
            event_name="INSERT",
            region="us-east-1",
            stream_arn="arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/x",
            created_at=1,
            keys={"orderID": {"S": "o-1"}},
            new_image=image,
            old_image=None,
            sequence_number="100000000000000000001",
            size_bytes=64,
            view_type="NEW_IMAGE",
        )

    hit, miss = record("+919876543210"), record("+14155550100")
    assert pattern.matches(hit)
    assert not pattern.matches(miss)
    match = pattern.matches
    results = {}
    for name, event in (("match", hit), ("no_match", miss)):
        started = time.perf_counter()
        for _ in range(count):
            match(event)
        results[name] = count / (time.perf_counter() - started)
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(fresh_dir("engine"))
    try:
        total, batch = args.messages, args.batch
        empty = [await bench.send_receive_delete(total, batch) for _ in range(args.trials)]
        assert bench.waiting() == 0, "the empty-queue runs left messages behind"
        if args.parts == "empty":
            return {"queue": {"batch": batch, "empty_msgs_per_s": empty}}
        filled_at = time.perf_counter()
        bench.fill(args.backlog)
        fill_rate = args.backlog / (time.perf_counter() - filled_at)
        backlog = [await bench.send_receive_delete(total, batch) for _ in range(args.trials)]
        waiting = bench.waiting()
        plan = bench.claim_plan()
        before = bench.stream_records()
        writes = [
            await bench.table_writes(args.items, args.table_batch, args.writers)
            for _ in range(args.trials)
        ]
        written = bench.stream_records() - before
        handle = [bench.handle_puts(args.handle_seconds) for _ in range(args.trials)]
    finally:
        bench.close()
    patterns = [pattern_matches(args.matches) for _ in range(args.trials)]
    isolated = [environments(args.handle_seconds) for _ in range(args.trials)]
    return {
        "environments": {
            isolation: {
                "invocations_per_s": [t[isolation]["invocations_per_s"] for t in isolated],
                "us_per_handle_call": [t[isolation]["us_per_handle_call"] for t in isolated],
            }
            for isolation in ("thread", "process")
        },
        "queue": {
            "batch": batch,
            "messages_per_trial": total,
            "empty_msgs_per_s": empty,
            "backlog_msgs_per_s": backlog,
            "backlog_waiting_after": waiting,
            "backlog_fill_msgs_per_s": fill_rate,
            "claim_plan": plan,
            "claim_uses_messages_ready": any("messages_ready" in step for step in plan)
            and not any("TEMP B-TREE" in step for step in plan),
        },
        "table": {
            "batch": args.table_batch,
            "writers": args.writers,
            "items_per_s": writes,
            "stream_records_written": written,
            "items_written": len(writes) * (args.items // args.writers * args.writers),
            "handle_put_item_per_s": handle,
        },
        "patterns": {
            "match_per_s": [p["match"] for p in patterns],
            "no_match_per_s": [p["no_match"] for p in patterns],
            "median_match_per_s": statistics.median(p["match"] for p in patterns),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--table-batch", type=int, default=10)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--handle-seconds", type=float, default=2.0)
    parser.add_argument("--matches", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--parts", choices=["all", "empty"], default="all", help="empty: the empty queue only"
    )
    args = parser.parse_args()
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
