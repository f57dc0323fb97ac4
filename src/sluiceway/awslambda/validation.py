"""What a function declaration must satisfy: its handler, runtime and environment variables,
as Lambda checks them."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sluiceway.awslambda.spec import ScheduleSource
from sluiceway.core.errors import DeclarationError, ValidationError
from sluiceway.core.schedule import parse_schedule


def check_handler(where: str, handler: Callable[..., Any]) -> None:
    if not callable(handler):
        raise DeclarationError(
            where,
            "the decorated object is not callable",
            "decorate a function def handler(event, context)",
        )
    try:
        inspect.signature(handler).bind(None, None)
    except TypeError:
        raise DeclarationError(
            where,
            "a handler takes two arguments (event, context)",
            "define it as def handler(event, context)",
        ) from None
    except ValueError:
        return


@dataclass(frozen=True)
class FunctionRuntime:
    """A function's runtime options, checked: what every trigger's decorator shares."""

    timeout: int
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    reserved_concurrency: int | None


# Lambda refuses these in a function's Environment: it sets them itself. SLUICEWAY_* are
# the AWS shim's own (which app, which function, where each resource is).
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


_VARIABLE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")


ENVIRONMENT_LIMIT = 4096  # bytes of keys and values together, as Lambda counts them


def environment_variables(
    where: str, environment: Mapping[str, str] | None
) -> tuple[tuple[str, str], ...]:
    """A function's `environment=`, checked as Lambda checks Environment.Variables."""
    if environment is None:
        return ()
    if not isinstance(environment, Mapping):
        raise DeclarationError(
            where,
            f"environment={environment!r} is not a mapping",
            'pass environment={"NAME": "value"}',
        )
    size = 0
    for key, value in environment.items():
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key):
            raise DeclarationError(
                where,
                f"environment variable name {key!r} is not allowed",
                "start with a letter; use letters, digits and _ (two characters or more)",
            )
        if key in RESERVED_VARIABLES or key.startswith("SLUICEWAY_"):
            raise DeclarationError(
                where,
                f"environment variable {key} is reserved: Lambda sets it",
                "choose another name",
            )
        if not isinstance(value, str):
            raise DeclarationError(
                where,
                f"environment variable {key}={value!r} is not a string",
                f"pass str(value) (Lambda's variables are strings): {key}={str(value)!r}",
            )
        size += len(key.encode()) + len(value.encode())
    if size > ENVIRONMENT_LIMIT:
        raise DeclarationError(
            where,
            f"environment variables take {size} bytes, more than Lambda's {ENVIRONMENT_LIMIT}",
            "keep large values in a parameter (--set) or a table",
        )
    return tuple(sorted(environment.items()))


def filter_patterns(
    where: str,
    filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    context: Literal["esm", "pipes"] = "esm",
) -> tuple[str, ...]:
    from sluiceway.patterns import PatternError, compile_filters

    if filter is None:
        return ()
    patterns = [filter] if isinstance(filter, Mapping) else list(filter)
    try:
        compiled = compile_filters(patterns, context=context)
    except PatternError as error:
        raise DeclarationError(
            where, f"invalid filter: {error}", "fix the event pattern (see `sluiceway match`)"
        ) from None
    return tuple(p.source for p in compiled.patterns)


INPUT_LIMIT = 8192  # characters: EventBridge's limit on a target's Input


def schedule_source(
    where: str, expression: str, input: str | Mapping[str, Any] | None, enabled: bool
) -> ScheduleSource:
    """An `on_schedule` declaration's source: an expression EventBridge accepts, and an
    `input` that is JSON (a mapping is written as JSON)."""
    try:
        parse_schedule(expression)
    except ValidationError as error:
        raise DeclarationError(
            where,
            str(error),
            "write e.g. 'rate(5 minutes)', 'cron(0 12 ? * MON-FRI *)' or "
            "'at(2026-12-07T10:00:00)' (UTC)",
        ) from None
    if not isinstance(enabled, bool):
        raise DeclarationError(where, f"enabled={enabled!r} is not a bool", "pass True or False")
    return ScheduleSource(expression, _schedule_input(where, input), enabled)


def _schedule_input(where: str, input: str | Mapping[str, Any] | None) -> str | None:
    if input is None:
        return None
    if isinstance(input, Mapping):
        try:
            input = json.dumps(input)
        except (TypeError, ValueError) as error:
            raise DeclarationError(
                where, f"input= cannot be written as JSON ({error})", "pass JSON-able values"
            ) from None
    if not isinstance(input, str):
        raise DeclarationError(
            where, f"input={input!r} is not JSON text", "pass a JSON string or a dict"
        )
    try:
        json.loads(input)
    except ValueError as error:
        raise DeclarationError(
            where, f"input= is not valid JSON ({error})", "pass a JSON string, e.g. '{}'"
        ) from None
    if len(input) > INPUT_LIMIT:
        raise DeclarationError(
            where,
            f"input= is {len(input)} characters, more than EventBridge's {INPUT_LIMIT}",
            "send less, or have the function read the rest from a table",
        )
    return input
