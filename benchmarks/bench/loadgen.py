"""A minimal HTTP/1.1 keep-alive load generator on raw sockets (uvloop), run in its own
process so that it never shares an interpreter with the server it loads.

Two modes:

* ``closed``: C connections, each sends its next request as soon as the previous answer
  arrives (what wrk does). Throughput and latency over a window after a warm-up, or exactly
  ``--count`` requests (a burst) when given.
* ``open``: requests leave on a fixed schedule (``--rate`` per second) whatever the server
  does, on as many connections as needed (up to ``--max-connections``). Latency is measured
  from the *scheduled* send time, so a slow server cannot slow the clock down (no
  coordinated omission); how late the generator itself was is reported as ``lag``.

``--record FILE`` writes ``<MessageId> <wall-clock send time>`` for every 200 answer (the
end-to-end benchmark matches them with the emails' arrival times).

The parser only understands what the servers here send: a status line, headers with a
Content-Length, a body. No chunked encoding, no pipelining.

    python -m bench.loadgen closed --url http://127.0.0.1:8080/orders -c 64 -d 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

from bench.common import SEED_ORDER, latency_summary


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Conn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.scheduled = 0.0
        self.sent_at = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.client.connected(self)

    def send(self, scheduled: float) -> None:
        assert self.transport is not None
        self.busy = True
        self.scheduled = scheduled
        self.sent_at = time.perf_counter()
        self.transport.write(self.client.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                length = 0
            else:
                stop = head.find(b"\r\n", at + 17)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                return
            status = int(head[9:12])
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            self.busy = False
            self.client.answered(self, status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Client:
    def __init__(self, url: str, body: bytes, *, record: bool) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.request = build_request(self.host, self.port, parts.path or "/", body)
        self.record = record
        self.records: list[tuple[str, float]] = []
        self.status: Counter[int] = Counter()
        self.errors = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.conns: set[Conn] = set()
        self.idle: list[Conn] = []
        self.pending: deque[float] = deque()
        self.opening = 0
        self.max_connections = 64
        self.running = True
        self.closed_loop = True
        self.window = (0.0, float("inf"))
        self.first_sent = float("inf")
        self.last_answer = 0.0
        self.ok = 0
        self.issued = 0
        self.limit: int | None = None
        self.outstanding = 0
        self.done = asyncio.Event()
        self.wall0 = time.time()
        self.perf0 = time.perf_counter()

    # -- connections ---------------------------------------------------------------------

    def open_connection(self) -> None:
        self.opening += 1
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.create_connection(lambda: Conn(self), self.host, self.port))
        task.add_done_callback(self._opened)

    def _opened(self, task: asyncio.Task[Any]) -> None:
        self.opening -= 1
        if task.cancelled() or task.exception() is not None:
            self.errors += 1

    def connected(self, conn: Conn) -> None:
        self.conns.add(conn)
        self.next_for(conn)

    def lost(self, conn: Conn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.busy:
            self.errors += 1
            self.outstanding -= 1
            conn.busy = False
            self._check_done()
        if self.running and self.closed_loop and self._wants_more():
            self.open_connection()

    # -- requests ------------------------------------------------------------------------

    def _wants_more(self) -> bool:
        return self.limit is None or self.issued < self.limit

    def next_for(self, conn: Conn) -> None:
        """Give `conn` its next request, or park it."""
        if self.closed_loop:
            if self.running and self._wants_more():
                self._send(conn, time.perf_counter())
            else:
                conn.close()
        elif self.pending:
            self._send(conn, self.pending.popleft())
        else:
            self.idle.append(conn)

    def _send(self, conn: Conn, scheduled: float) -> None:
        self.issued += 1
        self.outstanding += 1
        conn.send(scheduled)
        self.first_sent = min(self.first_sent, conn.sent_at)

    def dispatch(self, scheduled: float, now: float) -> None:
        """Open loop: one request is due now (`now` - `scheduled`: how late the generator
        itself is; waiting for a free connection is the server's doing and not counted)."""
        self.lags.append(now - scheduled)
        while self.idle:
            conn = self.idle.pop()
            # A keep-alive connection the server closed while it idled (its connection_lost
            # may not have run yet) is dropped, not written to.
            if conn.transport is not None and not conn.transport.is_closing():
                self._send(conn, scheduled)
                return

        self.pending.append(scheduled)
        if len(self.conns) + self.opening < self.max_connections:
            self.open_connection()

    def answered(self, conn: Conn, status: int, body: bytes) -> None:
        now = time.perf_counter()
        self.outstanding -= 1
        self.last_answer = now
        start, end = self.window
        if start <= now <= end:
            self.status[status] += 1
            self.latencies.append(now - conn.scheduled)
            if status == 200:
                self.ok += 1
        if self.record and status == 200:
            message_id = json.loads(body)["MessageId"]
            self.records.append((message_id, self.wall0 + (conn.sent_at - self.perf0)))
        self.next_for(conn)
        self._check_done()

    def _check_done(self) -> None:
        if self.outstanding <= 0 and not self.pending and not self.running:
            self.done.set()
        if self.limit is not None and self.outstanding <= 0 and self.issued >= self.limit:
            self.done.set()

    def close_all(self) -> None:
        for conn in list(self.conns):
            conn.close()


async def closed_loop(
    client: Client, connections: int, warmup: float, duration: float, count: int | None
) -> dict[str, Any]:
    client.max_connections = connections
    client.limit = count
    started = time.perf_counter()
    if count is None:
        client.window = (started + warmup, started + warmup + duration)
    for _ in range(connections):
        client.open_connection()
    if count is None:
        await asyncio.sleep(warmup + duration)
        client.running = False
        elapsed = duration
    else:
        await client.done.wait()
        client.running = False
        elapsed = client.last_answer - client.first_sent
    client.close_all()
    return {"duration_s": elapsed, "acks_per_s": client.ok / elapsed if elapsed else 0.0}


async def open_loop(
    client: Client, rate: float, duration: float, max_connections: int, drain: float
) -> dict[str, Any]:
    client.closed_loop = False
    client.max_connections = max_connections
    for _ in range(min(16, max_connections)):
        client.open_connection()
    await asyncio.sleep(0.2)
    total = int(rate * duration)
    interval = 1.0 / rate
    t0 = time.perf_counter() + 0.01
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = t0 + sent * interval
        if due > now:
            await asyncio.sleep(due - now)
            now = time.perf_counter()
        while sent < total and t0 + sent * interval <= now:
            client.dispatch(t0 + sent * interval, now)
            sent += 1
    sending = time.perf_counter() - t0
    client.running = False
    client._check_done()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.done.wait(), drain)
    # Whatever is still unanswered counts with the latency it has reached so far.
    now = time.perf_counter()
    unanswered = [conn.scheduled for conn in client.conns if conn.busy] + list(client.pending)
    client.latencies += [now - s for s in unanswered]
    client.close_all()
    span = max(client.last_answer - t0, sending)
    return {
        "offered_per_s": rate,
        "sent_per_s": total / sending if sending else 0.0,
        "acks_per_s": client.ok / span if span else 0.0,
        "unanswered": len(unanswered),
        "lag": latency_summary(client.lags),
        "connections_used": len(client.conns),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    body = args.body.encode() if args.body else SEED_ORDER
    client = Client(args.url, body, record=args.record is not None)
    cpu0 = time.process_time()
    if args.mode == "closed":
        result = await closed_loop(client, args.connections, args.warmup, args.duration, args.count)
    else:
        result = await open_loop(client, args.rate, args.duration, args.max_connections, args.drain)
    result["generator_cpu_s"] = time.process_time() - cpu0
    result["latency"] = latency_summary(client.latencies)
    result["status"] = {str(k): v for k, v in sorted(client.status.items())}
    result["ok"] = client.ok
    result["errors"] = client.errors
    result["mode"] = args.mode
    if args.record is not None:
        with open(args.record, "w") as out:
            out.writelines(f"{mid} {sent:.6f}\n" for mid, sent in client.records)
        result["recorded"] = len(client.records)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["closed", "open"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", default="")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-w", "--warmup", type=float, default=1.0)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=None, help="closed: send exactly N")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--drain", type=float, default=10.0, help="open: wait for answers")
    parser.add_argument("--record", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = uvloop.run(main_async(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
