"""DynamoDB's data and control plane on the runtime's port (see `sluiceway.local.aws_api`)."""

from __future__ import annotations

from typing import Any

from sluiceway.core.wire import Operations

operations: Operations[Any] = Operations(
    "dynamodb", denied_code="AccessDeniedException", denied_status=400
)
