"""The web console the runtime serves at ``/console``.

Server-rendered pages (autoescaped Jinja templates) that htmx keeps live by polling small
fragments; the only script is the vendored ``htmx.min.js``. It reads the engine's store
directly (the runtime's own reader connections) and changes it through the same ops the
CLI uses (purge, redrive, send), so what the console shows is what `sluiceway queues`
and friends show. Who may open it, and how a change is guarded: `access.py`.

    >>> RuntimeApp(engine)   # serves the console unless settings.console is False  # doctest: +SKIP
"""

from sluiceway.local.console.access import needs_token, with_token
from sluiceway.local.console.handler import Console

__all__ = ["Console", "needs_token", "with_token"]
