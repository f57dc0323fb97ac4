"""What the runtime and its front door process share: the config the runtime sends first,
and the framing of a handed-over connection's bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sluiceway.apigateway.info import RouteInfo
from sluiceway.sqs.info import QueueInfo

__all__ = ["HANDOVER_HEAD", "HANDOVER_PIECE", "FrontDoorConfig"]

HANDOVER_PIECE = 1 << 16  # a handed-over connection's bytes go in messages of at most this
HANDOVER_HEAD = struct.Struct("!I")  # a handed-over connection's byte count, before them


@dataclass(frozen=True)
class FrontDoorConfig:
    """What the runtime sends first: the routes to serve, keyed by (method, path) as bytes,
    and how to log."""

    routes: dict[tuple[bytes, bytes], tuple[RouteInfo, QueueInfo]]
    log_format: str
    log_level: int
    header_seconds: float  # the edge's deadlines (edge.py), and uvicorn's keep-alive
    body_seconds: float
    keep_alive_seconds: float
    max_url_bytes: int  # the edge's limits: a request past them is handed over for its 414/431
    max_header_bytes: int
    data_dir: str  # where the inbox is (inbox.py)
    durability: str
