"""One runtime per data directory: `DataDirLock` holds ``engine.lock`` while an engine is
open, and waits for a dead runtime's delivery process (it inherits the lock) to finish.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from sluiceway.core.errors import SluicewayError

ORPHAN_WAIT_STEPS = 600  # x 50 ms: how long to wait for a dead runtime's delivery process


def _alive(owner: str) -> bool:
    """Is the process named in the lock file ("pid 123") running?"""
    try:
        os.kill(int(owner.removeprefix("pid ")), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class DataDirBusy(SluicewayError):
    code = "DataDirBusy"


class DataDirLock:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file: IO[str] | None = None  # held while the engine is open

    def acquire(self) -> None:
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / "engine.lock", "a+")  # noqa: SIM115 - held while open
        waited = threading.Event()
        for _ in range(ORPHAN_WAIT_STEPS):
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                if _alive(owner):
                    handle.close()
                    raise DataDirBusy(
                        f"{directory} is in use by {owner}; stop it or choose another --data-dir"
                    ) from None
                # Its runtime is dead but its delivery process is finishing a delivery.
                waited.wait(0.05)
        else:
            handle.close()
            raise DataDirBusy(f"{directory} stays locked by a process that is not running")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self.file = handle

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None
