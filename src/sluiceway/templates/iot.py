"""IoT topic rules from a template (``AWS::IoT::TopicRule``, what SAM's ``Type: IoTRule``
event becomes): the rule's SQL, RuleDisabled and actions become ``app.topic_rule``, whose
actions reach the template's functions, queues, topics and tables; the local runtime runs the
rule on what devices publish to its MQTT broker.

Lambda, Sqs, Sns, DynamoDB, DynamoDBv2 and Republish actions run; any other action (S3,
Kinesis, Firehose, ...) stops the start, naming it. The actions' RoleArn is not checked (the
rules engine writes as itself); an ErrorAction is kept but not run (a failed action is
logged).
"""

from __future__ import annotations

from typing import Any

from sluiceway.iot.spec import (
    InvokeFunction,
    PublishToTopic,
    PutItem,
    PutKeyedItem,
    Republish,
    RuleAction,
    SendToQueue,
)
from sluiceway.templates import convert, messaging, tables
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError

SQL_VERSIONS = ("2016-03-23", "2015-10-08")
_TABLE = "AWS::DynamoDB::Table"
_EMULATED = ("Lambda", "Sqs", "Sns", "DynamoDB", "DynamoDBv2", "Republish")


def topic_rule(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    payload = convert.mapping(f"{where} property TopicRulePayload", props.get("TopicRulePayload"))
    inside = f"{where} TopicRulePayload"
    version = str(payload.get("AwsIotSqlVersion") or "2015-10-08")
    if version not in SQL_VERSIONS:
        raise TemplateError(
            f"{inside}.AwsIotSqlVersion",
            f"SQL version {version!r} is not emulated",
            "use 2016-03-23",
        )
    if version != "2016-03-23":
        build.note(f"{inside}.AwsIotSqlVersion {version}: the SQL runs with 2016-03-23's rules")
    disabled = convert.boolean(f"{inside}.RuleDisabled", payload.get("RuleDisabled"))
    actions = [
        _action(build, f"{inside}.Actions[{i}]", raw)
        for i, raw in enumerate(convert.listing(f"{inside}.Actions", payload.get("Actions")))
    ]
    error_action: RuleAction | None = None
    if payload.get("ErrorAction") is not None:
        try:
            error_action = _action(build, f"{inside}.ErrorAction", payload["ErrorAction"])
        except TemplateError as refused:
            # An error action of a kind not emulated (CloudWatch, S3...) is no obstacle.
            build.note(f"{inside}.ErrorAction is not run locally ({refused}): failures are logged")
            error_action = None
    build.app.topic_rule(
        build.name(logical),
        convert.text(f"{inside}.Sql", payload.get("Sql")),
        actions,
        enabled=not disabled,
        error_action=error_action,
    )
    if disabled:
        build.note(f"{where}: disabled (RuleDisabled: true), so it does not run")


def _action(build: Build, where: str, raw: Any) -> RuleAction:
    action = convert.mapping(where, raw)
    if len(action) != 1:
        raise TemplateError(where, f"has {sorted(action)}", "give one action per list item")
    ((kind, value),) = action.items()
    settings = convert.mapping(f"{where}.{kind}", value)
    at = f"{where}.{kind}"
    match kind:
        case "Lambda":
            function = build.function_of(settings.get("FunctionArn"), f"{at}.FunctionArn")
            return InvokeFunction(build.name(function))
        case "Sqs":
            queue = build.origin(settings.get("QueueUrl"), f"{at}.QueueUrl", messaging.QUEUE)
            use_base64 = convert.boolean(f"{at}.UseBase64", settings.get("UseBase64"))
            return SendToQueue(messaging.queue(build, queue).name, use_base64)
        case "Sns":
            topic = build.origin(settings.get("TargetArn"), f"{at}.TargetArn", messaging.TOPIC)
            message_format = str(settings.get("MessageFormat") or "RAW")
            return PublishToTopic(messaging.topic(build, topic).name, message_format)
        case "DynamoDBv2":
            put = convert.mapping(f"{at}.PutItem", settings.get("PutItem"))
            table = build.origin(put.get("TableName"), f"{at}.PutItem.TableName", _TABLE)
            return PutItem(tables.table(build, table).name)
        case "DynamoDB":
            return _keyed(build, at, settings)
        case "Republish":
            if settings.get("Headers") is not None:
                build.note(f"{at}.Headers (MQTT 5 properties) are not emulated")
            # AWS spells a reserved topic with '$$' ($$aws/things/...).
            topic_text = convert.text(f"{at}.Topic", settings.get("Topic"))
            topic_text = "$" + topic_text[2:] if topic_text.startswith("$$") else topic_text
            qos = convert.integer(f"{at}.Qos", settings.get("Qos"), 0)
            return Republish(topic_text, qos)
    raise TemplateError(
        where,
        f"the {kind} action is not emulated by sluiceway",
        f"use one of {', '.join(_EMULATED)} for the local run, or run this rule on AWS",
    )


def _keyed(build: Build, at: str, settings: dict[str, Any]) -> PutKeyedItem:
    operation = str(settings.get("Operation") or "INSERT").upper()
    if operation not in ("INSERT", "UPDATE"):
        raise TemplateError(
            f"{at}.Operation", f"{operation!r} is not emulated", "use INSERT (the default)"
        )
    handle = tables.table(build, build.origin(settings.get("TableName"), f"{at}.TableName", _TABLE))
    hash_key, range_key = handle.spec.partition_key, handle.spec.sort_key

    def text(key: str) -> str:
        return convert.text(f"{at}.{key}", settings.get(key))

    range_field = settings.get("RangeKeyField")
    return PutKeyedItem(
        handle.name,
        hash_key_field=text("HashKeyField"),
        hash_key_value=text("HashKeyValue"),
        hash_key_type=_key_type(settings.get("HashKeyType"), hash_key.type),
        range_key_field=None if range_field is None else text("RangeKeyField"),
        range_key_value=None if range_field is None else text("RangeKeyValue"),
        range_key_type=_key_type(
            settings.get("RangeKeyType"), range_key.type if range_key is not None else "S"
        ),
        payload_field=str(settings.get("PayloadField") or "payload"),
    )


def _key_type(given: Any, schema: str) -> str:
    """The key's type as the action says it, else as the table's key schema has it."""
    if given is not None:
        return str(given).upper()
    return "NUMBER" if schema == "N" else "STRING"
