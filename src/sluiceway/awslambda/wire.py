"""Lambda's Invoke for the app's functions on the runtime's port (see `sluiceway.local.aws_api`)."""

from __future__ import annotations

from typing import Any

from sluiceway.core.wire import Operations

operations: Operations[Any] = Operations(
    "lambda", denied_code="AccessDeniedException", denied_status=403
)
