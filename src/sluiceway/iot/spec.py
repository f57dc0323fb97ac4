"""The IoT topics an app may publish to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IotSpec:
    """The app publishes MQTT messages through AWS IoT Core: `topics` are the topic names
    and filters (``devices/+/inbox``) a publish may use; on AWS they are the resources of the
    functions' ``iot:Publish`` policy."""

    topics: tuple[str, ...] = ("#",)
