"""The IoT topics an app may publish to, and its topic rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True)
class IotSpec:
    """The app publishes MQTT messages through AWS IoT Core: `topics` are the topic names
    and filters (``devices/+/inbox``) a publish may use; on AWS they are the resources of the
    functions' ``iot:Publish`` policy."""

    topics: tuple[str, ...] = ("#",)


@dataclass(frozen=True)
class InvokeFunction:
    """Lambda action: invoke the app's function `function` asynchronously with the selected
    object as the event."""

    function: str


@dataclass(frozen=True)
class SendToQueue:
    """SQS action: send the selected object (JSON) to the app's queue `queue`, base64 encoded
    when `use_base64`."""

    queue: str
    use_base64: bool = False


@dataclass(frozen=True)
class PublishToTopic:
    """SNS action: publish the selected object to the app's topic `topic`; `message_format`
    ``RAW`` (the default) or ``JSON`` (a message structure with a ``default`` key)."""

    topic: str
    message_format: str = "RAW"


@dataclass(frozen=True)
class PutItem:
    """DynamoDBv2 action: put the selected object (a JSON object) as an item of `table`."""

    table: str


@dataclass(frozen=True)
class PutKeyedItem:
    """DynamoDB (v1) action: an item of `table` with the key fields filled from substitution
    templates (``${topic(3)}``) and the selected object under `payload_field`."""

    table: str
    hash_key_field: str
    hash_key_value: str
    hash_key_type: str = "STRING"
    range_key_field: str | None = None
    range_key_value: str | None = None
    range_key_type: str = "STRING"
    payload_field: str = "payload"


@dataclass(frozen=True)
class Republish:
    """Republish action: publish the selected object to `topic` (substitution templates such
    as ``${topic()}/out`` allowed) at `qos`."""

    topic: str
    qos: int = 0


RuleAction: TypeAlias = (
    InvokeFunction | SendToQueue | PublishToTopic | PutItem | PutKeyedItem | Republish
)


@dataclass(frozen=True)
class TopicRuleSpec:
    """An AWS IoT Core topic rule: the messages published to the broker that its `sql`
    (AWS IoT SQL 2016-03-23) selects run its `actions`; `error_action` is kept for the
    render (locally a failed action is retried, then logged)."""

    name: str
    sql: str
    actions: tuple[RuleAction, ...]
    enabled: bool = True
    error_action: RuleAction | None = None
