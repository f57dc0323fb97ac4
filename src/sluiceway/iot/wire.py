"""The IoT data plane's Publish on the runtime's port (see `sluiceway.local.aws_api`).

A publish goes where the handle's ``iot.publish`` goes: into the durable outbox as an MQTT
delivery, which the engine's MQTT worker hands to the broker (``--mqtt``'s, or the one
embedded in the runtime) in publish order. The topic and payload are checked by IoT Core's
rules (`rules.py`); a function may publish only to the topics the app declared
(``app.iot(topics=...)``, its ``iot:Publish`` policy on AWS), the admin to any.
"""

from __future__ import annotations

from typing import Any, Protocol

from sluiceway.core import ids
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.iot import rules
from sluiceway.iot.spec import IotSpec
from sluiceway.sns import topics


class Graph(Protocol):
    @property
    def iot(self) -> IotSpec | None: ...


class IotEngine(Protocol):
    """What IoT's Publish needs of the engine."""

    store: Store
    region: Region

    @property
    def graph(self) -> Graph: ...


operations: Operations[IotEngine] = Operations(
    "iot-data", denied_code="ForbiddenException", denied_status=403
)


@operations("Publish")
def publish(engine: IotEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    spec = engine.graph.iot
    if spec is None:
        raise WireError(
            "InvalidRequestException",
            "this app declares no IoT (app.iot(topics=...)), so the runtime has no MQTT "
            "delivery to publish through",
            status=400,
        )
    topic = rules.check_topic(params["topic"])
    arn = f"arn:aws:iot:{call.region.region}:{call.region.account_id}:topic/{topic}"
    call.authorize("iot", "*", "iot:Publish", arn)
    if not call.caller.is_admin and topic not in rules.TopicAllowlist(spec.topics):
        call.authorize("iot", topic, "iot:Publish", arn)  # outside the declared topics
    qos = rules.check_qos(params.get("qos", 0))
    if params.get("retain"):
        raise WireError(
            "InvalidRequestException",
            "sluiceway's MQTT delivery does not keep retained messages (publish with retain=false)",
            status=400,
        )
    payload = rules.check_payload(bytes(params.get("payload") or b""), topic=topic)
    message_id = ids.uuid4()
    engine.store.write(lambda tx: topics.publish_mqtt(tx, topic, payload, qos, message_id))
    return {}
