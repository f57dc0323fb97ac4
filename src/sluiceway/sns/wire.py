"""SNS's API (query) on the runtime's port (see `sluiceway.local.aws_api`)."""

from __future__ import annotations

from typing import Any

from sluiceway.core.wire import Operations

operations: Operations[Any] = Operations("sns", denied_code="AuthorizationError", denied_status=403)
