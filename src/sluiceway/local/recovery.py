"""What a start undoes of a crash, before anything runs."""

from __future__ import annotations

from pathlib import Path

from sluiceway.core.store import Store, Tx
from sluiceway.sns import outbox, sent_log
from sluiceway.sqs import queues


def recover(store: Store, data_dir: Path) -> None:
    """Deliveries a peer had accepted are recorded as delivered (`sent_log`); the other ones
    being sent and the messages being processed go back to waiting (both safe to repeat: see
    their modules). Then the logs of acceptances are emptied: all they noted is recorded."""

    def undo(tx: Tx) -> None:
        sent_log.recover(tx, data_dir)
        outbox.release_in_flight(tx)
        queues.release_interrupted(tx)

    store.write(undo)
    sent_log.clear(data_dir)
