"""The delivery process: carries email for the runtime, and outlives it by the emails in hand.

Why a process: SMTP has no transaction to join. If the runtime recorded a delivery only after
the server's ``250``, a crash between the two would send that email again after restart. So the
runtime hands jobs to this child over a pipe, records the outcomes, and tells the child which
are recorded. When the runtime dies (a ``kill -9`` included), the child sees its stdin close,
finishes the emails in hand, writes every outcome not yet recorded into the database itself,
and exits. The child inherits the data directory's lock, so a restarted runtime waits for it
before it recovers unfinished deliveries.

Throughput: the runtime hands over a whole batch at once and the child sends it over several
SMTP connections in parallel, answering each job as it finishes. After a failed connection,
the rest of the batch fails at once (and is retried later) rather than each job waiting out
its own timeout.

Protocol (JSON lines). Runtime -> child: ``{"job": {...}}``, ``{"recorded": id}``,
``{"links": base_url}``. Child -> runtime: ``{"id": id, "error": null | str,
"permanent": bool, "connection": bool}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from sluiceway.core.faults import crash_point
from sluiceway.core.gctune import tune_gc
from sluiceway.core.settings import Durability
from sluiceway.core.store import Store, Tx
from sluiceway.sns import outbox
from sluiceway.sns.deliveries import Delivered
from sluiceway.sns.email import DeliveryError, Links, MaildirMailer, Mailer, SmtpMailer, compose
from sluiceway.sns.outbox import Job
from sluiceway.sns.sent_log import SentLog

log = logging.getLogger("sluiceway.sender")

BREAKER_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class SenderConfig:
    data_dir: str
    durability: Durability
    smtp: str | None
    sender: str
    base_url: str
    connections: int = 4


def make_mailer(data_dir: Path, smtp: str | None) -> Mailer:
    if smtp:
        return SmtpMailer(smtp)
    return MaildirMailer(Path(data_dir) / "maildir")


# -- the child --------------------------------------------------------------------------


class _Child:
    def __init__(self, config: SenderConfig, outbox: IO[str]) -> None:
        self.config = config
        self.outbox = outbox
        self.links = Links(config.base_url)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.unrecorded: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.orphaned = False
        self.broken_at = 0.0
        self.broken: dict[str, Any] | None = None
        self.sent = SentLog(Path(config.data_dir), "email", durable=config.durability == "full")

    def run(self, inbox: IO[str]) -> None:
        workers = [
            threading.Thread(target=self._work, name=f"smtp-{n}", daemon=True)
            for n in range(self.config.connections)
        ]
        for worker in workers:
            worker.start()
        try:
            for line in inbox:
                message = json.loads(line)
                if "job" in message:
                    self.jobs.put(Job(*message["job"]))
                elif "recorded" in message:
                    with self.lock:
                        self.unrecorded.pop(int(message["recorded"]), None)
                elif "links" in message:
                    self.links = Links(str(message["links"]))
        finally:
            # The runtime closed the pipe (or died): finish what is in hand, then record.
            for _ in workers:
                self.jobs.put(None)
            for worker in workers:
                worker.join()
            if self.unrecorded:
                _record_orphaned(self.config, list(self.unrecorded.values()))
            self.sent.close()

    def _work(self) -> None:
        mailer = make_mailer(Path(self.config.data_dir), self.config.smtp)
        try:
            while (job := self.jobs.get()) is not None:
                outcome = self._send(mailer, job)
                if outcome["error"] is None:
                    self.sent.sent(job.id)  # on disk before this connection sends another
                with self.lock:
                    self.unrecorded[job.id] = outcome
                    if outcome["connection"]:
                        self.broken, self.broken_at = outcome, time.monotonic()
                    elif outcome["error"] is None:
                        self.broken = None
                    if not self.orphaned:
                        try:
                            self.outbox.write(json.dumps(outcome) + "\n")
                            self.outbox.flush()
                        except (BrokenPipeError, OSError, ValueError):
                            self.orphaned = True  # the runtime is gone: we record at exit
        finally:
            mailer.close()

    def _send(self, mailer: Mailer, job: Job) -> dict[str, Any]:
        with self.lock:
            broken = self.broken
            if broken is not None and time.monotonic() - self.broken_at < BREAKER_SECONDS:
                return {**broken, "id": job.id}
        try:
            mailer.send(compose(job, sender=self.config.sender, links=self.links))
        except DeliveryError as error:
            return {
                "id": job.id,
                "error": str(error),
                "permanent": error.permanent,
                "connection": error.connection,
            }
        except Exception as bug:  # a message that cannot even be composed will never go
            return {
                "id": job.id,
                "error": f"internal error: {bug!r}",
                "permanent": True,
                "connection": False,
            }
        return {"id": job.id, "error": None, "permanent": False, "connection": False}


def _record_orphaned(config: SenderConfig, outcomes: list[dict[str, Any]]) -> None:
    store = Store(Path(config.data_dir), durability=config.durability, create=False)
    store.open()
    try:
        store.write(lambda tx: record_outcomes(tx, outcomes))
    finally:
        store.close()


def record_outcomes(tx: Tx, outcomes: list[dict[str, Any]]) -> None:
    for outcome in outcomes:
        if outcome["error"] is None:
            outbox.delivered(tx, int(outcome["id"]))
        else:
            outbox.failed(
                tx, int(outcome["id"]), str(outcome["error"]), permanent=bool(outcome["permanent"])
            )


def main() -> None:
    config = SenderConfig(**json.loads(sys.stdin.readline()))
    tune_gc()
    _Child(config, sys.stdout).run(sys.stdin)


# -- the runtime's side -----------------------------------------------------------------


class ChildSender:
    """The runtime's handle on its delivery process: `deliver_all(jobs)` hands a batch
    over and collects the outcomes (several batches may be in flight at once); `recorded(id)`
    says an outcome is on disk."""

    def __init__(self, config: SenderConfig, *, keep_fds: tuple[int, ...] = ()) -> None:
        self.config = config
        self.keep_fds = keep_fds
        self._process: subprocess.Popen[str] | None = None
        self._write_lock = threading.Lock()
        self._spawn_lock = threading.Lock()
        self._waiting: dict[int, Future[DeliveryError | None]] = {}
        self._waiting_lock = threading.Lock()
        self._spawn()

    def _spawn(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluiceway.sns.delivery_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            pass_fds=self.keep_fds,
        )
        self._process = process
        threading.Thread(
            target=self._read, args=(process,), name="delivery-outcomes", daemon=True
        ).start()
        self._send_line(json.dumps(dataclasses.asdict(self.config)))

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # the pipe closed under us
            for line in process.stdout:
                outcome = json.loads(line)
                with self._waiting_lock:
                    future = self._waiting.pop(int(outcome["id"]), None)
                if future is not None:
                    future.set_result(
                        None
                        if outcome["error"] is None
                        else DeliveryError(
                            str(outcome["error"]),
                            permanent=bool(outcome["permanent"]),
                            connection=bool(outcome["connection"]),
                        )
                    )
        # The child is gone: whatever still waits on it will not hear back.
        lost = DeliveryError("the delivery process exited during a delivery")
        with self._waiting_lock:
            waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.set_result(lost)

    def _send_line(self, line: str) -> None:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        with self._write_lock:
            process.stdin.write(line + "\n")
            process.stdin.flush()

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]:
        """Each job's outcome (None: delivered), in the order of `jobs`."""
        with self._spawn_lock:
            process = self._process
            if process is None or process.poll() is not None:
                log.warning(
                    "the delivery process exited (%s); starting another",
                    process and process.returncode,
                )
                self._spawn()
        futures: list[Future[DeliveryError | None]] = []
        with self._waiting_lock:
            for job in jobs:
                future: Future[DeliveryError | None] = Future()
                self._waiting[job.id] = future
                futures.append(future)
        try:
            self._send_line("\n".join(json.dumps({"job": _fields(job)}) for job in jobs))
        except (BrokenPipeError, OSError, ValueError) as error:
            log.warning("the delivery process failed: %s", error)
            lost = DeliveryError(f"the delivery process failed: {error}")
            with self._waiting_lock:
                for job, future in zip(jobs, futures, strict=True):
                    if self._waiting.pop(job.id, None) is not None:
                        future.set_result(lost)
        crash_point("mid-delivery")
        return [(future.result(), ()) for future in futures]

    def recorded(self, job_id: int) -> None:
        # If the child is gone, it recorded what it had before exiting.
        with contextlib.suppress(BrokenPipeError, OSError, ValueError, AssertionError):
            self._send_line(json.dumps({"recorded": job_id}))

    def set_links(self, base_url: str) -> None:
        self.config = dataclasses.replace(self.config, base_url=base_url)
        self._send_line(json.dumps({"links": base_url}))

    def close(self, timeout: float = 30.0) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with self._write_lock:
                process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._process = None


def _fields(job: Job) -> list[Any]:
    # A list, not dataclasses.asdict: the conversion showed in profiles at thousands a second.
    return [getattr(job, name) for name in Job.__slots__]
