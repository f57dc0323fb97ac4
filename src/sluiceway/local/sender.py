"""The delivery process: carries email for the runtime, and outlives it by one delivery.

Why a process: SMTP has no transaction to join. If the runtime recorded a delivery only after
the server's ``250``, a crash between the two would send that email again after restart. So the
runtime hands each job to this child over a pipe and records the outcome, then tells the
child it is recorded. When the runtime dies (a ``kill -9`` included), the child sees its stdin
close, finishes the email in hand, writes every outcome not yet recorded into the database
itself, and exits. The child inherits the data directory's lock, so a restarted runtime
waits for it before it recovers unfinished deliveries.

Protocol (JSON lines). Runtime -> child: ``{"job": {...}}``, ``{"recorded": id}``,
``{"links": base_url}``. Child -> runtime: ``{"id": id, "error": null | str,
"permanent": bool, "connection": bool}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from sluiceway.local import topics
from sluiceway.local.email import DeliveryError, Links, MaildirMailer, Mailer, SmtpMailer, compose
from sluiceway.local.faults import crash_point
from sluiceway.local.store import Store, Tx
from sluiceway.local.topics import Job
from sluiceway.settings import Durability

log = logging.getLogger("sluiceway.sender")


@dataclasses.dataclass(frozen=True)
class SenderConfig:
    data_dir: str
    durability: Durability
    smtp: str | None
    sender: str
    base_url: str


def make_mailer(data_dir: Path, smtp: str | None) -> Mailer:
    if smtp:
        return SmtpMailer(smtp)
    return MaildirMailer(Path(data_dir) / "maildir")


# -- the child --------------------------------------------------------------------------


def _child(config: SenderConfig, inbox: IO[str], outbox: IO[str]) -> None:
    mailer = make_mailer(Path(config.data_dir), config.smtp)
    links = Links(config.base_url)
    unrecorded: dict[int, dict[str, Any]] = {}
    try:
        for line in inbox:
            message = json.loads(line)
            if "recorded" in message:
                unrecorded.pop(int(message["recorded"]), None)
            elif "links" in message:
                links = Links(str(message["links"]))
            elif "job" in message:
                job = Job(**message["job"])
                outcome = _send(mailer, job, config.sender, links)
                unrecorded[job.id] = outcome
                try:
                    outbox.write(json.dumps(outcome) + "\n")
                    outbox.flush()
                except (BrokenPipeError, OSError):
                    break  # the runtime is gone: record what we did ourselves
    finally:
        mailer.close()
        if unrecorded:
            _record_orphaned(config, list(unrecorded.values()))


def _send(mailer: Mailer, job: Job, sender: str, links: Links) -> dict[str, Any]:
    try:
        mailer.send(compose(job, sender=sender, links=links))
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
            topics.delivered(tx, int(outcome["id"]))
        else:
            topics.failed(
                tx, int(outcome["id"]), str(outcome["error"]), permanent=bool(outcome["permanent"])
            )


def main() -> None:
    config = SenderConfig(**json.loads(sys.stdin.readline()))
    _child(config, sys.stdin, sys.stdout)


# -- the runtime's side -----------------------------------------------------------------


class ChildSender:
    """The runtime's handle on its delivery process: `deliver(job)` hands a job over and
    waits for the outcome; `recorded(id)` says the outcome is on disk."""

    def __init__(self, config: SenderConfig, *, keep_fds: tuple[int, ...] = ()) -> None:
        self.config = config
        self.keep_fds = keep_fds
        self._process: subprocess.Popen[str] | None = None
        self._write_lock = threading.Lock()
        self._spawn()

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sluiceway.local.delivery_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            pass_fds=self.keep_fds,
        )
        self._send_line(json.dumps(dataclasses.asdict(self.config)))

    def _send_line(self, line: str) -> None:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        with self._write_lock:
            process.stdin.write(line + "\n")
            process.stdin.flush()

    def deliver(self, job: Job) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            log.warning(
                "the delivery process exited (%s); starting another", process and process.returncode
            )
            self._spawn()
            process = self._process
        assert process is not None
        assert process.stdout is not None
        try:
            self._send_line(json.dumps({"job": dataclasses.asdict(job)}))
            crash_point("mid-delivery")
            line = process.stdout.readline()
        except (BrokenPipeError, OSError) as error:
            raise DeliveryError(f"the delivery process failed: {error}") from error
        if not line:
            raise DeliveryError("the delivery process exited during a delivery")
        outcome = json.loads(line)
        if outcome["error"] is not None:
            raise DeliveryError(
                str(outcome["error"]),
                permanent=bool(outcome["permanent"]),
                connection=bool(outcome["connection"]),
            )

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
