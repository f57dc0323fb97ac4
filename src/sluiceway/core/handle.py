"""What every resource handle shares: the app that declared it, whose backend it calls.

A handle is both the declaration (it holds the frozen spec) and the client a handler uses at
run time. Calls go to the backend the app is bound to: the local engine, or boto3 in Lambda.
Each service's handle says which calls it makes as a Protocol of its own (`QueueBackend`, ...).
"""

from __future__ import annotations

from typing import Any, Protocol


class Declarer(Protocol):
    """The app a handle belongs to (`sluiceway.App`), as a handle sees it."""

    @property
    def backend(self) -> Any: ...


class Handle:
    def __init__(self, app: Declarer) -> None:
        self._app: Any = app

    @property
    def app(self) -> Any:
        """The `App` that declared this resource."""
        return self._app
