"""The IoT data plane's Publish on the runtime's port (see `sluiceway.local.aws_api`)."""

from __future__ import annotations

from typing import Any

from sluiceway.core.wire import Operations

operations: Operations[Any] = Operations(
    "iot-data", denied_code="ForbiddenException", denied_status=403
)
