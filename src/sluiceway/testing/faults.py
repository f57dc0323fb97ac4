"""The fault switches of an app under test (`RunningApp.faults`)."""

from __future__ import annotations

from collections.abc import Sequence

from sluiceway.app import App
from sluiceway.awslambda.invoke import Invoker
from sluiceway.testing.outbound import PEERS, Peer


class InjectedFailure(RuntimeError):
    """What a function "raises" when a test made it fail (`Faults.fail`)."""


class Faults:
    """Switches a test flips: peers down (``smtp``, ``sms``, ``webhook``, ``mqtt``), a
    webhook's answer, a function failing its next invocations."""

    def __init__(self, app: App, invoker: Invoker, peers: dict[str, Peer]) -> None:
        self._app = app
        self._invoker = invoker
        self.peers = peers

    def down(self, *peers: str) -> _BackUp:
        """Make `peers` unreachable until `up` (or the end of a ``with`` block)."""
        for peer in self._peers(peers):
            peer.down = True
        return _BackUp(self, peers)

    def up(self, *peers: str) -> None:
        """Make `peers` reachable again; what waited goes out when its retry is due."""
        for peer in self._peers(peers):
            peer.down = False

    def webhook_answers(self, status: int) -> None:
        """What the SMS webhook answers from now on (2xx delivers; 4xx refuses a text for
        good; 5xx, 408 and 429 are retried)."""
        if not 200 <= status <= 599:
            raise ValueError(f"an HTTP status is 200..599, not {status}")
        self.peers["webhook"].status = status

    def fail(self, function: str, times: int = 1, error: BaseException | str | None = None) -> None:
        """Make `function`'s next `times` invocations fail with `error` (an exception, or a
        message for an `InjectedFailure`) without running its handler."""
        names = [f.name for f in self._app.graph.functions]
        if function not in names:
            raise ValueError(f"the app has no function {function!r} (it has: {', '.join(names)})")
        if times < 1:
            raise ValueError("times is 1 or more")
        made = [
            error
            if isinstance(error, BaseException)
            else InjectedFailure(error or f"{function} failed (injected by the test)")
            for _ in range(times)
        ]
        self._invoker.fail_next(function, made)

    def _peers(self, names: Sequence[str]) -> list[Peer]:
        unknown = [name for name in names if name not in self.peers]
        if unknown or not names:
            raise ValueError(f"name peers among {', '.join(PEERS)} (not {', '.join(unknown)})")
        return [self.peers[name] for name in names]


class _BackUp:
    """`Faults.down`'s result: used as a context manager, it brings the peers back up."""

    def __init__(self, faults: Faults, peers: Sequence[str]) -> None:
        self._faults = faults
        self._peers = peers

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._faults.up(*self._peers)
