"""AWS IoT Core's rules engine: what a topic rule does with one MQTT message.

`rule_checks.compile_rule` checks a `TopicRuleSpec` when the app declares it; `plan`
evaluates the rule's query on a message and returns the actions' writes, to be committed
together in one transaction of the store (so a message's actions happen all or not at all,
and the message is acknowledged to the broker only after they are durable):

* Lambda: an asynchronous invoke through the outbox (`topics.enqueue_invocation`, what
  ``InvocationType=Event`` does), run by the functions' delivery worker with Lambda's retries;
* SQS: a message to the queue; SNS: a publish to the topic (its subscriptions fan out);
* DynamoDBv2: the selected object as an item; DynamoDB: an item whose key fields come from
  substitution templates and whose payload field holds the selected object;
* Republish: an MQTT publish through the outbox, to the topic its template names.

An action that cannot run on this message (a DynamoDBv2 item without its key, a payload that
is not JSON for Lambda) is reported in `Plan.failures`; the other actions still run, and the
rule's ErrorAction, if it has one, gets AWS's error message (the rule, the topic, the original
payload in base64 and each failed action with its resource and error), in the same
transaction as the rest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sluiceway.core import attrvalue, ids, naming
from sluiceway.core.errors import ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.iot import rule_sql, rules
from sluiceway.iot.rule_checks import CompiledRule, compile_rule, describe
from sluiceway.iot.rule_sql import Message
from sluiceway.iot.spec import (
    InvokeFunction,
    PublishToTopic,
    PutItem,
    PutKeyedItem,
    Republish,
    RuleAction,
    SendToQueue,
)
from sluiceway.sns import topics
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.sqs_fanout import Fanout
from sluiceway.sqs import messages, queues
from sluiceway.sqs.info import QueueInfo

# The principal the rules engine sends as (SQS's SenderId of a rule's message).
RULES_PRINCIPAL = "iot.amazonaws.com"


class Targets(Protocol):
    """The app's resources a rule's actions reach (the engine's registry)."""

    def queue(self, name: str) -> QueueInfo: ...

    def topic(self, name: str) -> TopicInfo: ...

    def table(self, name: str) -> TableInfo: ...


Op = Callable[[Tx], None]


@dataclass
class Plan:
    """A message's effects: the writes to commit together, and the actions that failed."""

    selected: dict[str, Any] | bytes | None
    ops: list[Op] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def commit(self, tx: Tx) -> None:
        for op in self.ops:
            op(tx)


def plan(rule: CompiledRule, message: Message, targets: Targets, fanout: Fanout) -> Plan:
    """What `message` makes the rule do (nothing when its WHERE does not hold)."""
    selected = rule.query.evaluate(message)
    result = Plan(selected)
    if selected is None:
        return result
    failed: list[dict[str, str]] = []
    for action in rule.spec.actions:
        try:
            result.ops.append(_op(action, selected, message, targets, fanout))
        except (ValidationError, KeyError, ValueError) as error:
            result.failures.append(f"{describe(action)}: {error}")
            failed.append(_failure(action, error))
    error_action = rule.spec.error_action
    if failed and error_action is not None:
        report = {
            "ruleName": rule.spec.name,
            "topic": message.topic,
            "cloudwatchTraceId": ids.uuid4(),
            "clientId": message.client_id,
            "base64OriginalPayload": base64.b64encode(message.payload).decode(),
            "failures": failed,
        }
        try:
            result.ops.append(_op(error_action, report, message, targets, fanout))
        except (ValidationError, KeyError, ValueError) as error:
            result.failures.append(f"the ErrorAction {describe(error_action)}: {error}")
    return result


def _failure(action: RuleAction, error: BaseException) -> dict[str, str]:
    """A failed action as AWS's error message names it."""
    kind, resource = {
        InvokeFunction: ("LambdaAction", "function"),
        SendToQueue: ("SqsAction", "queue"),
        PublishToTopic: ("SnsAction", "topic"),
        PutItem: ("DynamoDBv2Action", "table"),
        PutKeyedItem: ("DynamoAction", "table"),
        Republish: ("RepublishAction", "topic"),
    }[type(action)]
    return {
        "failedAction": kind,
        "failedResource": str(getattr(action, resource)),
        "errorMessage": str(error).strip("'\""),
    }


def _json_text(selected: dict[str, Any] | bytes, what: str) -> str:
    if isinstance(selected, bytes):
        raise ValidationError(f"the payload is not JSON, so {what} cannot carry it")
    return json.dumps(selected, separators=(",", ":"))


def _bytes(selected: dict[str, Any] | bytes) -> bytes:
    if isinstance(selected, bytes):
        return selected
    return json.dumps(selected, separators=(",", ":")).encode("utf-8")


def _op(
    action: RuleAction,
    selected: dict[str, Any] | bytes,
    message: Message,
    targets: Targets,
    fanout: Fanout,
) -> Op:
    match action:
        case InvokeFunction(function=function):
            event = _json_text(selected, "a Lambda event")
            request_id = ids.uuid4()
            return lambda tx: topics.enqueue_invocation(tx, function, event, request_id)
        case SendToQueue(queue=queue, use_base64=use_base64):
            info = targets.queue(queue)
            raw = _bytes(selected)
            body = base64.b64encode(raw).decode() if use_base64 else raw.decode("utf-8")
            outgoing = messages.prepare(info, body, sender_id=naming.principal_id(RULES_PRINCIPAL))
            return lambda tx: _discard(queues.send(tx, info, outgoing))
        case PublishToTopic(topic=topic, message_format=message_format):
            topic_info = targets.topic(topic)
            text = _bytes(selected).decode("utf-8")
            publication = topics.prepare(
                text,
                subject=None,
                attributes=None,
                structure="json" if message_format == "JSON" else None,
            )
            return lambda tx: topics.publish(tx, topic_info, publication, fanout)
        case PutItem(table=table):
            if not isinstance(selected, dict):
                raise ValidationError("the selected value is not a JSON object, so not an item")
            return _put(targets.table(table), _decimals(selected))
        case PutKeyedItem() as keyed:
            item: dict[str, Any] = {
                keyed.hash_key_field: _key(
                    rule_sql.substitute(keyed.hash_key_value, message), keyed.hash_key_type
                )
            }
            if keyed.range_key_field is not None and keyed.range_key_value is not None:
                item[keyed.range_key_field] = _key(
                    rule_sql.substitute(keyed.range_key_value, message), keyed.range_key_type
                )
            if isinstance(selected, dict):
                item[keyed.payload_field] = _decimals(selected)
            else:
                item[keyed.payload_field] = selected
            return _put(targets.table(keyed.table), item)
        case Republish(topic=template, qos=qos):
            expanded = rule_sql.substitute(template, message)
            # AWS spells a reserved topic with '$$' ($$aws/things/...), which the outbox's
            # topic rules refuse to publish to; the name is checked as a publish topic.
            topic_name = rules.check_topic(expanded)
            payload = rules.check_payload(_bytes(selected), topic=topic_name)
            message_id = ids.uuid4()
            return lambda tx: topics.publish_mqtt(tx, topic_name, payload, qos, message_id)


def _discard(_: object) -> None:
    return None


def _put(info: TableInfo, item: dict[str, Any]) -> Op:
    encoded = attrvalue.serialize_item(item)
    tables.check_item(info, encoded)
    tables.encode_key(info, encoded)  # the key attributes are there, of the right type
    return lambda tx: tables.put(tx, info, encoded, if_not_exists=False)


def _key(text: str, kind: str) -> Any:
    if kind == "STRING":
        return text
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"key value {text!r} is not a NUMBER") from None


def _decimals(value: Any) -> Any:
    """JSON numbers as DynamoDB numbers (floats through their shortest text)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


__all__ = ["CompiledRule", "Plan", "Targets", "compile_rule", "describe", "plan"]
