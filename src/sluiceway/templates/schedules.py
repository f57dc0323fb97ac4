"""Schedules from a template: an EventBridge rule with a ``ScheduleExpression``
(``AWS::Events::Rule``, what SAM's ``Type: Schedule`` event becomes) or an EventBridge
Scheduler schedule (``AWS::Scheduler::Schedule``, SAM's ``ScheduleV2``), each Lambda target
its function's schedule trigger. A rule with an ``EventPattern`` instead (events from an
event bus) is listed as not emulated."""

from __future__ import annotations

from typing import Any

from sluiceway.templates import convert
from sluiceway.templates.build import Build


def rule(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    expression = props.get("ScheduleExpression")
    if expression is None:
        build.note(f"{where}: an event pattern rule (event buses) is not emulated")
        return
    enabled = str(props.get("State", "ENABLED")).upper() == "ENABLED"
    for i, raw in enumerate(convert.listing(f"{where} property Targets", props.get("Targets"))):
        target = convert.mapping(f"{where} property Targets[{i}]", raw)
        _trigger(build, f"{where} Targets[{i}]", target, str(expression), enabled)


def schedule(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    enabled = str(props.get("State", "ENABLED")).upper() == "ENABLED"
    if props.get("ScheduleExpressionTimezone") not in (None, "UTC", "Etc/UTC"):
        build.note(f"{where}: ScheduleExpressionTimezone is not emulated; times are UTC")
    target = convert.mapping(f"{where} property Target", props.get("Target"))
    _trigger(build, f"{where} Target", target, str(props.get("ScheduleExpression")), enabled)


def _trigger(
    build: Build, where: str, target: dict[str, Any], expression: str, enabled: bool
) -> None:
    arn = target.get("Arn")
    if ":lambda:" not in str(arn):
        build.note(f"{where}: a target other than a Lambda function is not emulated")
        return
    function = build.function_of(arn, f"{where} Arn")
    given = target.get("Input")

    def on_schedule(name: str, common: dict[str, Any], handler: Any) -> None:
        build.app.on_schedule(expression, input=given, enabled=enabled, name=name, **common)(
            handler
        )

    build.trigger(function, f"schedule {expression}", on_schedule)
