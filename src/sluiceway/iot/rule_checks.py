"""A topic rule checked when the app declares it: its SQL parsed, its substitution templates
and actions checked against the app's resources, and a Republish that would feed its own rule
forever refused. Declaring needs only this (no engine); `topic_rules` runs a compiled rule."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sluiceway.core.errors import ValidationError
from sluiceway.iot import rule_sql, rules
from sluiceway.iot.rule_sql import Query
from sluiceway.iot.spec import (
    InvokeFunction,
    PublishToTopic,
    PutItem,
    PutKeyedItem,
    Republish,
    RuleAction,
    SendToQueue,
    TopicRuleSpec,
)


@dataclass(frozen=True)
class CompiledRule:
    spec: TopicRuleSpec
    query: Query

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def topic_filter(self) -> str:
        return self.query.topic_filter


def describe(action: RuleAction) -> str:
    match action:
        case InvokeFunction(function=function):
            return f"Lambda {function}"
        case SendToQueue(queue=queue):
            return f"SQS {queue}"
        case PublishToTopic(topic=topic):
            return f"SNS {topic}"
        case PutItem(table=table):
            return f"DynamoDBv2 {table}"
        case PutKeyedItem(table=table):
            return f"DynamoDB {table}"
        case Republish(topic=topic):
            return f"Republish {topic}"


def compile_rule(
    spec: TopicRuleSpec,
    *,
    functions: Collection[str],
    queues_: Collection[str],
    topics_: Collection[str],
    tables_: Collection[str],
) -> CompiledRule:
    """The rule, checked: `ValidationError` names what is wrong (bad or unsupported SQL, a
    target the app does not declare, a Republish that would trigger its own rule forever)."""
    if not spec.name or len(spec.name) > 128 or not spec.name.replace("_", "").isalnum():
        raise ValidationError(
            f"topic rule name {spec.name!r}: AWS allows 1 to 128 letters, digits and '_'"
        )
    query = rule_sql.parse(spec.sql)
    if not spec.actions:
        raise ValidationError(f"topic rule {spec.name!r} has no actions")
    for action in (*spec.actions, *([spec.error_action] if spec.error_action else [])):
        _check_action(action, spec.name, functions, queues_, topics_, tables_)
        if (
            isinstance(action, Republish)
            and action is not spec.error_action
            and "${" not in action.topic
            and query.where is None
            and rules.topic_matches(query.topic_filter, action.topic)
        ):
            raise ValidationError(
                f"topic rule {spec.name!r}: its Republish to {action.topic!r} matches its own "
                f"FROM {query.topic_filter!r}, so every message would trigger it again forever"
            )
    return CompiledRule(spec, query)


def _check_action(
    action: RuleAction,
    rule: str,
    functions: Collection[str],
    queues_: Collection[str],
    topics_: Collection[str],
    tables_: Collection[str],
) -> None:
    def need(name: str, declared: Collection[str], kind: str) -> None:
        if name not in declared:
            raise ValidationError(
                f"topic rule {rule!r}: {describe(action)} names no {kind} of this app"
            )

    match action:
        case InvokeFunction(function=function):
            need(function, functions, "function")
        case SendToQueue(queue=queue):
            need(queue, queues_, "queue")
        case PublishToTopic(topic=topic, message_format=message_format):
            need(topic, topics_, "topic")
            if message_format not in ("RAW", "JSON"):
                raise ValidationError(f"topic rule {rule!r}: SNS MessageFormat RAW or JSON")
        case PutItem(table=table):
            need(table, tables_, "table")
        case PutKeyedItem() as keyed:
            need(keyed.table, tables_, "table")
            for template in (keyed.hash_key_value, keyed.range_key_value or ""):
                rule_sql.check_template(template)
            for kind in (keyed.hash_key_type, keyed.range_key_type):
                if kind not in ("STRING", "NUMBER"):
                    raise ValidationError(f"topic rule {rule!r}: key type STRING or NUMBER")
        case Republish(topic=topic, qos=qos):
            if topic.startswith("$") and not topic.startswith("${"):
                raise ValidationError(
                    f"topic rule {rule!r}: republishing to a reserved topic ({topic!r}) is not "
                    "emulated (the local broker has no $aws topics)"
                )
            rule_sql.check_template(topic)
            rules.check_qos(qos)
