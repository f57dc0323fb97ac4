"""The IoT Core handle: what `app.iot(...)` returns, publishing over MQTT."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from sluiceway.core.handle import Declarer, Handle
from sluiceway.core.permissions import permission
from sluiceway.core.specs import Permission
from sluiceway.iot import rules as iot
from sluiceway.iot.iam import IOT_PUBLISH_ACTIONS
from sluiceway.iot.spec import IotSpec


class IotBackend(Protocol):
    """The calls this service's handles make: the local engine implements them on SQLite,
    the Lambda shim on boto3."""

    def publish_iot(self, topic: str, payload: bytes, qos: int) -> None: ...


class Iot(Handle):
    """MQTT publishing through AWS IoT Core (``iot-data`` Publish): what ``app.iot()``
    returns.

    >>> iot = app.iot(topics=["devices/+/inbox"])                        # doctest: +SKIP
    >>> iot.publish("devices/DemoClient/inbox", b'{"QRCode": "..."}', qos=1)  # doctest: +SKIP

    A function needs ``uses=[iot.publishes]``. A topic must be a valid publish topic (no
    wildcards, no leading ``$``, at most 256 bytes and 7 slashes) and match one of the
    declared `topics`, so a topic looked up from data cannot reach a device it should not.
    """

    name = "*"

    def __init__(self, app: Declarer, spec: IotSpec) -> None:
        super().__init__(app)
        self.spec = spec
        self.allowlist = iot.TopicAllowlist(spec.topics)

    def _backend(self) -> IotBackend:
        backend: IotBackend = self._app.backend
        return backend

    @property
    def publishes(self) -> Permission:
        """Permission to publish to the declared topics (`uses=[iot.publishes]`)."""
        return permission("iot", self.name, "publishes", IOT_PUBLISH_ACTIONS)

    def publish(
        self, topic: str, payload: bytes | str | Mapping[str, Any] | list[Any], qos: int = 0
    ) -> None:
        """Publish `payload` to `topic` at `qos` 0 or 1. A str is sent as UTF-8, a dict or
        list as JSON. Locally the message waits in a durable outbox until the broker has it,
        in publish order."""
        topic = self.allowlist.check(topic)
        iot.check_qos(qos)
        if isinstance(payload, str):
            data = payload.encode("utf-8")
        elif isinstance(payload, bytes | bytearray | memoryview):
            data = bytes(payload)
        else:
            data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self._backend().publish_iot(topic, iot.check_payload(data, topic=topic), qos)

    def __repr__(self) -> str:
        return f"Iot(topics={list(self.spec.topics)!r})"
