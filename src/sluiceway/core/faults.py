"""Named crash points, for the crash tests (off unless asked for).

``SLUICEWAY_CRASH_AT=point[:n]`` makes the process kill itself with SIGKILL the n-th time
(default: the first) it reaches `point`, so a test can stop the runtime exactly where a
power cut would hurt most. Without the variable a crash point costs one comparison.

Points: ``after-commit-before-reply`` (the gateway stored a message, the client has no
answer), ``mid-batch`` (a handler's table write is on disk, its batch is not finished),
``after-handler-before-delete`` (a batch succeeded, its messages are not deleted),
``mid-delivery`` (an email is with the delivery process, its outcome not recorded).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

POINTS = (
    "after-commit-before-reply",
    "mid-batch",
    "after-handler-before-delete",
    "mid-delivery",
)


def _armed() -> tuple[str | None, int]:
    setting = os.environ.get("SLUICEWAY_CRASH_AT")
    if not setting:
        return None, 0
    point, _, count = setting.partition(":")
    if point not in POINTS:
        raise ValueError(f"SLUICEWAY_CRASH_AT: unknown crash point {point!r} (known: {POINTS})")
    return point, int(count or 1)


_POINT, _COUNT = _armed()
_lock = threading.Lock()
_WITH: list[int] = []  # processes that die with this one at a crash point


def die_together_with(pid: int) -> None:
    """At a crash point, kill `pid` too: the front door process names the runtime, so that a
    crash point reached there is a crash of the runtime, as it was when the gateway held it."""
    _WITH.append(pid)


def crash_point(name: str) -> None:
    """Die here, at once and without cleanup, if this is the armed point's n-th visit."""
    global _COUNT
    if name != _POINT:
        return
    with _lock:
        _COUNT -= 1
        if _COUNT == 0:
            for pid in _WITH:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
