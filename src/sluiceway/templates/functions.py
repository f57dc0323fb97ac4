"""Lambda functions, their event source mappings and execution roles, from a template.

A function's triggers are gathered first (event source mappings, API methods, SNS lambda
subscriptions); then the function is declared once per trigger, as the app's decorators
declare it: its first trigger under its own name, each further one as ``<name>-<n>`` (the app
graph gives a function one event source; the code, role and settings are the same).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sluiceway.awslambda.code import CodeHandler, check_code, check_defined
from sluiceway.templates import convert, messaging, tables
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.roles import role_of

FUNCTION = "AWS::Lambda::Function"
# Settings that change what the function is, with no local equivalent: refused, not ignored.
_REFUSED = {
    "DurableConfig": "a durable function (checkpointed, resumable execution)",
}
_IGNORED = (
    "Architectures",
    "Tracing",
    "VpcConfig",
    "KmsKeyArn",
    "DeadLetterConfig",
    "EphemeralStorage",
    "LoggingConfig",
    "SnapStart",
    "CapacityProviderConfig",  # Lambda Managed Instances: the runtime's workers run it
)


def event_source_mapping(build: Build, logical: str) -> None:
    props = build.props(logical)
    where = build.where(logical)
    function = build.function_of(props.get("FunctionName"), f"{where} property FunctionName")
    if not convert.boolean(f"{where} property Enabled", props.get("Enabled"), True):
        build.note(f"{where}: disabled (Enabled: false), so it does not run")
        return
    source = props.get("EventSourceArn")
    kind = "AWS::SQS::Queue" if ":sqs:" in str(source) else "AWS::DynamoDB::Table"
    origin = build.origin(source, f"{where} property EventSourceArn", kind)
    options = _mapping_options(build, where, props)
    if props.get("ProvisionedPollerConfig") is not None:
        build.note(
            f"{where}: ProvisionedPollerConfig is not emulated (the runtime polls the queue itself)"
        )
    if kind == "AWS::SQS::Queue":
        queue = messaging.queue(build, origin)
        for key in ("StartingPosition", "ParallelizationFactor", "MaximumRetryAttempts"):
            options.pop(key, None)

        def on_queue(name: str, common: dict[str, Any], handler: Any) -> None:
            build.app.on_queue(queue, **options, **common, name=name)(handler)

        build.trigger(function, f"SQS {queue.name}", on_queue)
    else:
        table = tables.table(build, origin)

        def on_stream(name: str, common: dict[str, Any], handler: Any) -> None:
            stream = {k: v for k, v in options.items() if k != "maximum_concurrency"}
            build.app.on_stream(table, **stream, **common, name=name)(handler)

        build.trigger(function, f"DynamoDB stream {table.name}", on_stream)


def _mapping_options(build: Build, where: str, props: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    numbers = {
        "BatchSize": "batch_size",
        "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
        "MaximumRetryAttempts": "maximum_retry_attempts",
        "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
        "ParallelizationFactor": "parallelization_factor",
        "TumblingWindowInSeconds": "tumbling_window_in_seconds",
    }
    for key, option in numbers.items():
        if props.get(key) is not None:
            options[option] = convert.integer(f"{where} property {key}", props[key])
    if props.get("StartingPosition") is not None:
        options["starting_position"] = props["StartingPosition"]
    if props.get("BisectBatchOnFunctionError") is not None:
        options["bisect_batch_on_function_error"] = convert.boolean(
            where, props["BisectBatchOnFunctionError"]
        )
    types = convert.listing(
        f"{where} property FunctionResponseTypes", props.get("FunctionResponseTypes")
    )
    options["report_batch_item_failures"] = "ReportBatchItemFailures" in types
    scaling = convert.mapping(f"{where} property ScalingConfig", props.get("ScalingConfig"))
    if scaling.get("MaximumConcurrency") is not None:
        options["maximum_concurrency"] = convert.integer(where, scaling["MaximumConcurrency"])
    filters = convert.mapping(f"{where} property FilterCriteria", props.get("FilterCriteria"))
    patterns = []
    for i, item in enumerate(
        convert.listing(f"{where} FilterCriteria.Filters", filters.get("Filters"))
    ):
        pattern = convert.mapping(f"{where} FilterCriteria.Filters[{i}]", item).get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    if patterns:
        options["filter"] = patterns
    failure = convert.mapping(f"{where} property DestinationConfig", props.get("DestinationConfig"))
    destination = convert.mapping(where, failure.get("OnFailure")).get("Destination")
    if destination is not None:
        target = build.origin(
            destination,
            f"{where} DestinationConfig.OnFailure",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
        )
        options["on_failure"] = (
            messaging.queue(build, target)
            if build.type_of(target) == "AWS::SQS::Queue"
            else messaging.topic(build, target)
        )
    return options


def check_function(build: Build, logical: str) -> str:
    """Refuse what cannot run locally (an image, a runtime other than Python, a durable
    function) before anything is declared; the runtime's name."""
    props = build.props(logical)
    where = build.where(logical)
    runtime = props.get("Runtime")
    if props.get("PackageType") == "Image":
        raise TemplateError(
            where, "a container image function cannot run locally", "use a zip (Python) function"
        )
    if not isinstance(runtime, str) or not runtime.startswith("python3"):
        raise TemplateError(
            f"{where} property Runtime",
            f"runtime {runtime!r} is not Python; sluiceway runs Python handlers only",
            "use a python3.x runtime, or run this function elsewhere",
        )
    for key, what in _REFUSED.items():
        if props.get(key) is not None:
            raise TemplateError(
                build.where(logical, key),
                f"{what} cannot run locally",
                f"remove {key} for the local run, or run this function on AWS",
            )
    return str(runtime)


def function(build: Build, logical: str) -> None:
    """Declare the function once per trigger (or once with none, for invokes and pipes)."""
    props = build.props(logical)
    where = build.where(logical)
    runtime = check_function(build, logical)
    local = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != local:
        build.note(f"{where}: Runtime {runtime} runs on this machine's Python ({local})")
    code = check_code(
        f"{where} property Handler", _code_folder(build, logical, props), props.get("Handler")
    )
    check_defined(f"{where} property Handler", code)
    layers = tuple(_layer(build, where, arn) for arn in convert.listing(where, props.get("Layers")))
    handler = CodeHandler(code.__class__(code.root, code.handler, layers))
    for key in convert.ignored(_IGNORED, props):
        build.note(f"{where}: {key} is not emulated (no effect locally)")
    variables = convert.mapping(
        where, convert.mapping(where, props.get("Environment")).get("Variables")
    )
    common: dict[str, Any] = {
        "timeout": convert.integer(f"{where} property Timeout", props.get("Timeout"), 3),
        "memory_size": convert.integer(
            f"{where} property MemorySize", props.get("MemorySize"), 128
        ),
        "environment": {str(k): _variable(v) for k, v in variables.items()},
        "reserved_concurrency": convert.optional_integer(
            f"{where} property ReservedConcurrentExecutions",
            props.get("ReservedConcurrentExecutions"),
        ),
        "uses": [role_of(build, f"{where} property Role", props.get("Role"))],
    }
    name = build.name(logical)
    triggers = build.triggers.get(logical)
    if not triggers:
        build.app.function(name=name, **common)(handler)
    for i, (_, declare) in enumerate(triggers or ()):
        declare(name if i == 0 else f"{name[:60]}-{i + 1}", dict(common), handler)
    build.handles[logical] = handler


def _variable(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _code_folder(build: Build, logical: str, props: dict[str, Any]) -> str:
    found = build.local_path(logical, "Code")
    code = props.get("Code")
    if found is None and isinstance(code, dict) and isinstance(code.get("ZipFile"), str):
        folder = build.folder / ".sluiceway" / "inline" / logical
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "index.py"
        if not source.is_file() or source.read_text() != code["ZipFile"]:
            source.write_text(code["ZipFile"])
        return str(folder)
    if found is None:
        raise TemplateError(
            build.where(logical, "Code"),
            "the code is in S3, which does not exist locally",
            "point CodeUri at the folder of the handler (as before `sam package`)",
        )
    if not found.is_dir():
        raise TemplateError(
            build.where(logical, "CodeUri"),
            f"{found} is not a folder",
            "point CodeUri at the folder holding the handler's module",
        )
    return str(found)


def _layer(build: Build, where: str, arn: Any) -> str:
    logical = build.origin(arn, f"{where} property Layers", "AWS::Lambda::LayerVersion")
    folder = build.local_path(logical, "Content")
    if folder is None or not folder.is_dir():
        raise TemplateError(
            build.where(logical, "ContentUri"),
            "the layer is not a local folder",
            "point ContentUri at the layer's folder",
        )
    python = folder / "python"
    return str(python if python.is_dir() else folder)
