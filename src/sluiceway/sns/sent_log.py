"""The deliveries a peer accepted, noted one by one as each is accepted.

A delivery's outcome reaches the database with its batch (a transaction per batch); a crash
of the whole process tree between a peer's acceptance and that commit would have the
restarted runtime send the batch's accepted deliveries again. So each carrier notes every
acceptance here at once, before it sends the next on that connection: an appended line
(fsync'd with ``--durability full``, so a power cut keeps it too). At start, before the
deliveries being sent go back to pending, those noted are recorded as delivered
(`recover`). What a crash can still send twice is the delivery each open connection had
in flight, whose acceptance the peer had not yet answered when the process died: at most one
per connection, and an email keeps its Message-ID, so a receiving system can drop the copy.

A log per process that sends: ``outbox/sent-email.log`` (the delivery process) and
``outbox/sent-runtime.log`` (SMS, MQTT and email sent by the runtime itself). They are
emptied once their deliveries are recorded: at start, after `recover`, and at a clean close.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sluiceway.core.store import Tx
from sluiceway.sns import outbox

FOLDER = "outbox"


def log_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / FOLDER / f"sent-{name}.log"


class SentLog:
    """One process's log of accepted deliveries (see the module's docstring)."""

    def __init__(self, data_dir: Path, name: str, *, durable: bool) -> None:
        self.path = log_path(data_dir, name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._file = self.path.open("a", encoding="ascii")
        self._lock = threading.Lock()

    def sent(self, job_id: int) -> None:
        """Note that the peer accepted delivery `job_id` (on disk when this returns)."""
        with self._lock:
            self._file.write(f"{job_id}\n")
            self._file.flush()
            fd = self._file.fileno()
        if self.durable:
            os.fsync(fd)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def recover(tx: Tx, data_dir: Path) -> int:
    """Record as delivered every delivery being sent that a log says a peer accepted;
    returns how many."""
    noted: set[int] = set()
    for path in sorted((Path(data_dir) / FOLDER).glob("sent-*.log")):
        # Whole lines only: one the crash cut short (no newline yet) notes nothing.
        for line in path.read_text(encoding="ascii", errors="replace").split("\n")[:-1]:
            if line.isdigit():
                noted.add(int(line))
    sending = {row[0] for row in tx.execute("SELECT id FROM deliveries WHERE status = 'sending'")}
    for job_id in sorted(noted & sending):
        outbox.delivered(tx, job_id)
    return len(noted & sending)


def clear(data_dir: Path) -> None:
    """Empty the logs (every delivery they note is recorded)."""
    for path in (Path(data_dir) / FOLDER).glob("sent-*.log"):
        path.unlink(missing_ok=True)
