"""EventBridge Pipes (``AWS::Pipes::Pipe``) from a template: an SQS queue or a DynamoDB stream
as the source, its filter and batching, an optional Lambda enrichment, and a Lambda function,
queue or topic as the target."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.templates import convert, messaging, tables
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError

QUEUE, TABLE, TOPIC = "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic"
FUNCTION = "AWS::Lambda::Function"


def pipe(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    if str(props.get("DesiredState", "RUNNING")).upper() == "STOPPED":
        build.note(f"{where}: DesiredState STOPPED, so it does not run")
        return
    source_arn = props.get("Source")
    source_kind = QUEUE if ":sqs:" in str(source_arn) else TABLE
    source_logical = build.origin(source_arn, f"{where} property Source", source_kind)
    source = (
        messaging.queue(build, source_logical)
        if source_kind == QUEUE
        else tables.table(build, source_logical)
    )
    parameters = convert.mapping(
        f"{where} property SourceParameters", props.get("SourceParameters")
    )
    options: dict[str, Any] = {}
    filters = convert.mapping(
        f"{where} SourceParameters.FilterCriteria", parameters.get("FilterCriteria")
    )
    patterns = [
        json.loads(p) if isinstance(p, str) else p
        for p in (
            convert.mapping(f"{where} FilterCriteria.Filters[{i}]", f).get("Pattern")
            for i, f in enumerate(convert.listing(where, filters.get("Filters")))
        )
    ]
    if patterns:
        options["filter"] = patterns
    specific = convert.mapping(
        where,
        parameters.get(
            "SqsQueueParameters" if source_kind == QUEUE else "DynamoDBStreamParameters"
        ),
    )
    numbers = {
        "BatchSize": "batch_size",
        "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
        "MaximumRetryAttempts": "maximum_retry_attempts",
        "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
        "ParallelizationFactor": "parallelization_factor",
    }
    for key, option in numbers.items():
        if specific.get(key) is not None:
            options[option] = convert.integer(f"{where} SourceParameters {key}", specific[key])
    if specific.get("StartingPosition") is not None:
        options["starting_position"] = specific["StartingPosition"]
    if specific.get("OnPartialBatchItemFailure") is not None:
        options["on_partial_batch_item_failure"] = specific["OnPartialBatchItemFailure"]
    dead = convert.mapping(where, specific.get("DeadLetterConfig")).get("Arn")
    if dead is not None:
        target = build.origin(dead, f"{where} DeadLetterConfig.Arn", QUEUE, TOPIC)
        options["dead_letter"] = (
            messaging.queue(build, target)
            if build.type_of(target) == QUEUE
            else messaging.topic(build, target)
        )
    if props.get("Enrichment") is not None:
        options["enrichment"] = _function(
            build, props["Enrichment"], f"{where} property Enrichment"
        )
    if props.get("TargetParameters"):
        build.note(
            f"{where}: TargetParameters (input templates) are not emulated; targets get the records"
        )
    build.app.pipe(
        build.name(logical),
        source=source,
        target=_target(build, where, props.get("Target")),
        **options,
    )


def _function(build: Build, arn: Any, where: str) -> Any:
    logical = build.function_of(arn, where)
    handler = build.handles.get(logical)
    if handler is None:
        raise TemplateError(
            where, f"function '{logical}' is not declared", "declare it in the template"
        )
    return handler


def _target(build: Build, where: str, arn: Any) -> Any:
    text = str(arn)
    if ":lambda:" in text:
        return _function(build, arn, f"{where} property Target")
    kind = QUEUE if ":sqs:" in text else TOPIC
    logical = build.origin(arn, f"{where} property Target", kind)
    return messaging.queue(build, logical) if kind == QUEUE else messaging.topic(build, logical)
