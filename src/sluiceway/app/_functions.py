"""Declaring functions: `app.function` and the event-source decorators (`on_queue`,
`on_stream`, `on_topic`, `on_schedule`, `on_http`), as SAM's function Events."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sluiceway.apigateway.validation import DEFAULT_ROUTE, HTTP_METHODS
from sluiceway.app._declarations import Declarations
from sluiceway.awslambda.code import CodeHandler
from sluiceway.awslambda.spec import (
    PAYLOAD_FORMAT_VERSIONS,
    STARTING_POSITIONS,
    DirectSource,
    EventSource,
    FunctionAuthorizer,
    FunctionSpec,
    HttpSource,
    QueueSource,
    StreamSource,
    TopicSource,
)
from sluiceway.awslambda.validation import (
    FunctionRuntime,
    check_handler,
    environment_variables,
    filter_patterns,
    schedule_source,
)
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core import naming, validation
from sluiceway.core.errors import DeclarationError
from sluiceway.core.policies import RolePolicy
from sluiceway.core.specs import Permission
from sluiceway.dynamodb.handle import Table
from sluiceway.sns import validation as sns_validation
from sluiceway.sns.handle import Topic
from sluiceway.sqs.handle import Queue

F = TypeVar("F", bound=Callable[..., Any])


class FunctionDeclarations(Declarations):
    def function(
        self,
        *,
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Declare the decorated function with no trigger of its own, for a pipe to invoke
        (``app.pipe(..., target=fn)`` or ``enrichment=fn``). As a pipe's target it gets the
        batch as a JSON array and may return ``{"batchItemFailures": [...]}``; as an
        enrichment it returns what the target gets."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            where = f"function '{fname}' (function)"
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            self._add_function(handler, fname, DirectSource(), uses, runtime, where)
            return handler

        return record

    def on_topic(
        self,
        topic: Topic,
        *,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Subscribe the decorated function to `topic` (SNS's lambda protocol). It gets the
        SNS event, one record per invocation; a failing invocation is retried twice (1 and
        2 minutes later), as Lambda retries asynchronous invocations. A `filter_policy`
        passes only the messages it matches, as on `topic.subscribe`."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            where = f"function '{fname}' (on_topic)"
            t = self._own(topic, Topic, where, "topic")
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            policy = sns_validation.filter_policy(where, filter_policy, filter_policy_scope)
            self._add_function(handler, fname, TopicSource(t.name, policy), uses, runtime, where)
            return handler

        return record

    def on_schedule(
        self,
        expression: str,
        *,
        input: str | Mapping[str, Any] | None = None,
        enabled: bool = True,
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Invoke the decorated function on a schedule (an EventBridge schedule rule, SAM's
        ``Schedule`` event): `expression` is ``rate(5 minutes)``, ``cron(0 12 ? * MON-FRI
        *)`` or a one-time ``at(2026-12-07T10:00:00)``, in UTC. The function gets
        EventBridge's "Scheduled Event", or `input` (JSON) when given, as an asynchronous
        invocation: a failure is retried twice, 1 and 2 minutes later. A rate counts from
        when the schedule was first run; times missed while the runtime was stopped are not
        made up."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            where = f"function '{fname}' (on_schedule {expression})"
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            source = schedule_source(where, expression, input, enabled)
            self._add_function(handler, fname, source, uses, runtime, where)
            return handler

        return record

    def on_http(
        self,
        method: str,
        path: str,
        *,
        auth: AuthSpec | FunctionAuthorizer | None = None,
        payload_format_version: str = "1.0",
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
        stage: str | None = None,
        api_keys: Sequence[str] | None = None,
    ) -> Callable[[F], F]:
        """Serve `method` `path` with the decorated function (API Gateway's Lambda proxy
        integration). The function gets the API Gateway proxy event and returns
        ``{"statusCode": 200, "headers": {...}, "body": "..."}``. `path` may hold
        ``{name}`` segments (``event["pathParameters"]``) and a last greedy ``{name+}``.

        ``payload_format_version="2.0"`` serves it as an HTTP API route instead (API
        Gateway v2, SAM's ``Type: HttpApi``): the function gets the 2.0 event (``rawPath``,
        ``cookies``, ``requestContext.http``...) and may also return a bare value, answered
        as 200 ``application/json`` (`sluiceway.apigateway.proxy.answer_v2`). Such a
        route's `path` may be ``"$default"`` (with `method` ``"ANY"``): an HTTP API's
        catch-all route, answering every request no other route matches.

        `stage` (a REST API's deployment stage, as a template's ``StageName``) serves it at
        ``/<stage><path>``, with the event's ``path`` and ``resource`` still `path` and its
        ``requestContext.stage`` the stage. `api_keys` requires the ``x-api-key`` header to
        hold one of them (API Gateway's ``ApiKeyRequired``; a 403 otherwise)."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            verb = method.upper() if isinstance(method, str) else method
            where = f"function '{fname}' (on_http {verb} {path})"
            if verb not in HTTP_METHODS:
                raise DeclarationError(
                    where,
                    f"method {method!r} is not an HTTP method API Gateway routes",
                    "use one of " + ", ".join(HTTP_METHODS),
                )
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            if timeout > 29:
                raise DeclarationError(
                    where,
                    f"timeout={timeout}s is longer than API Gateway waits (29 s)",
                    "keep HTTP handlers under 29 seconds; hand long work to a queue",
                )
            version = next(
                (v for v in PAYLOAD_FORMAT_VERSIONS if v == payload_format_version), None
            )
            if version is None:
                raise DeclarationError(
                    where,
                    f"payload_format_version={payload_format_version!r} is not a payload "
                    "format API Gateway has",
                    "use payload_format_version='1.0' (a REST API's proxy event) or '2.0' "
                    "(an HTTP API's)",
                )
            if path == DEFAULT_ROUTE and (verb != "ANY" or version != "2.0"):
                raise DeclarationError(
                    where,
                    "the $default route is an HTTP API's, for any method",
                    "declare on_http('ANY', '$default', payload_format_version='2.0')",
                )
            if stage is not None and (
                version != "1.0" or not re.fullmatch(r"[A-Za-z0-9_]{1,128}", stage)
            ):
                raise DeclarationError(
                    where,
                    f"stage={stage!r} is not a REST API stage name",
                    "name it with 1-128 letters, digits or underscores, on a REST API route",
                )
            guard: AuthSpec | FunctionAuthorizer | None
            if isinstance(auth, FunctionAuthorizer):
                if version != "1.0":
                    raise DeclarationError(
                        where,
                        "a Lambda authorizer here is a REST API's (TOKEN or REQUEST)",
                        "serve the route with payload_format_version='1.0'",
                    )
                guard = auth
            else:
                guard = self._auth(where, auth)
            keys = None if api_keys is None else tuple(api_keys)
            source = HttpSource(verb, path, guard, version, stage, keys)
            self._claim_route(where, verb, source.served_path)
            self._add_function(handler, fname, source, uses, runtime, where)
            return handler

        return record

    def on_queue(
        self,
        queue: Queue,
        *,
        batch_size: int = 10,
        maximum_batching_window_in_seconds: int = 0,
        report_batch_item_failures: bool = True,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        maximum_concurrency: int | None = None,
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Run the decorated function on batches from `queue` (a Lambda SQS event source
        mapping). The function gets the AWS SQS event unchanged and may return
        ``{"batchItemFailures": [{"itemIdentifier": messageId}]}``. `filter` patterns apply
        to each record (a JSON body is matched as JSON); messages that match none are deleted,
        as Lambda deletes them. `maximum_concurrency` caps the batches in flight at once."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            where = f"function '{fname}' (on_queue)"
            q = self._own(queue, Queue, where, "queue")
            if q.spec.fifo:
                validation.in_range(where, "batch_size", batch_size, 1, 10, " for a FIFO queue")
            else:
                validation.in_range(where, "batch_size", batch_size, 1, 10_000, "")
            validation.in_range(
                where,
                "maximum_batching_window_in_seconds",
                maximum_batching_window_in_seconds,
                0,
                300,
                " seconds",
            )
            if batch_size > 10 and maximum_batching_window_in_seconds < 1:
                raise DeclarationError(
                    where,
                    f"batch_size={batch_size} needs a batching window (AWS requires one above 10)",
                    "set maximum_batching_window_in_seconds=1 or more",
                )
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            if timeout > q.spec.visibility_timeout:
                raise DeclarationError(
                    where,
                    f"queue '{q.name}' visibility_timeout={q.spec.visibility_timeout}s is "
                    f"less than the function's timeout={timeout}s, so messages would be "
                    "redelivered while still being processed",
                    f"raise the queue's visibility_timeout to at least {6 * timeout} "
                    "(AWS advises 6x the timeout) or lower the timeout",
                )
            if maximum_concurrency is not None:
                validation.in_range(where, "maximum_concurrency", maximum_concurrency, 2, 1_000, "")
            source = QueueSource(
                q.name,
                batch_size,
                maximum_batching_window_in_seconds,
                report_batch_item_failures,
                filter_patterns(where, filter),
                maximum_concurrency,
            )
            self._add_function(handler, fname, source, uses, runtime, where)
            return handler

        return record

    def on_stream(
        self,
        table: Table,
        *,
        batch_size: int = 100,
        maximum_batching_window_in_seconds: int = 0,
        starting_position: str = "LATEST",
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        report_batch_item_failures: bool = True,
        maximum_retry_attempts: int = -1,
        maximum_record_age_in_seconds: int = -1,
        bisect_batch_on_function_error: bool = False,
        on_failure: Queue | Topic | None = None,
        parallelization_factor: int = 1,
        tumbling_window_in_seconds: int = 0,
        uses: Sequence[Permission | RolePolicy] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Run the decorated function on batches of a table's stream records (a Lambda
        DynamoDB Streams event source mapping). `filter` is an event pattern (or a list of
        them, OR-ed) applied to each record, as Lambda's FilterCriteria. A failing batch is
        retried (`maximum_retry_attempts`, -1 = until it succeeds or expires), optionally
        split in two on each error; what is discarded is reported to `on_failure`."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            where = f"function '{fname}' (on_stream)"
            t = self._own(table, Table, where, "table")
            if t.spec.stream is None:
                raise DeclarationError(
                    where,
                    f"table '{t.name}' has no stream",
                    f"declare app.table('{t.name}', ..., stream='NEW_IMAGE') or another view type",
                )
            validation.in_range(where, "batch_size", batch_size, 1, 10_000, "")
            validation.in_range(
                where,
                "maximum_batching_window_in_seconds",
                maximum_batching_window_in_seconds,
                0,
                300,
                " seconds",
            )
            if starting_position not in STARTING_POSITIONS:
                raise DeclarationError(
                    where,
                    f"starting_position={starting_position!r} is not supported for streams",
                    "use 'TRIM_HORIZON' or 'LATEST'",
                )
            runtime = self._function_options(
                where, timeout, memory_size, environment, reserved_concurrency
            )
            filters = filter_patterns(where, filter)
            validation.in_range(
                where, "maximum_retry_attempts", maximum_retry_attempts, -1, 10_000, ""
            )
            if maximum_record_age_in_seconds != -1:
                validation.in_range(
                    where,
                    "maximum_record_age_in_seconds",
                    maximum_record_age_in_seconds,
                    60,
                    604_800,
                    " seconds (or -1)",
                )
            validation.in_range(where, "parallelization_factor", parallelization_factor, 1, 10, "")
            validation.in_range(
                where, "tumbling_window_in_seconds", tumbling_window_in_seconds, 0, 900, " s"
            )
            destination = (
                None if on_failure is None else self._destination(where, on_failure, "on_failure")
            )
            source = StreamSource(
                t.name,
                batch_size,
                maximum_batching_window_in_seconds,
                starting_position,
                filters,
                report_batch_item_failures,
                maximum_retry_attempts,
                maximum_record_age_in_seconds,
                bisect_batch_on_function_error,
                destination,
                parallelization_factor,
                tumbling_window_in_seconds,
            )
            self._add_function(handler, fname, source, uses, runtime, where)
            return handler

        return record

    def _function_name(self, handler: Callable[..., Any], name: str | None) -> str:
        fname = name if name is not None else getattr(handler, "__name__", type(handler).__name__)
        naming.check_function_name(fname)
        if fname in self._functions:
            raise DeclarationError(
                f"function {fname!r}", "declared twice", "give one of them another name="
            )
        return fname

    def _function_options(
        self,
        where: str,
        timeout: int,
        memory_size: int,
        environment: Mapping[str, str] | None,
        reserved_concurrency: int | None,
    ) -> FunctionRuntime:
        validation.in_range(where, "timeout", timeout, 1, 900, " seconds")
        validation.in_range(where, "memory_size", memory_size, 128, 10_240, " MB")
        if reserved_concurrency is not None:
            validation.in_range(where, "reserved_concurrency", reserved_concurrency, 1, 1_000, "")
        return FunctionRuntime(
            timeout,
            memory_size,
            environment_variables(where, environment),
            reserved_concurrency,
        )

    def _add_function(
        self,
        handler: Callable[..., Any],
        name: str,
        source: EventSource,
        uses: Sequence[Permission | RolePolicy],
        runtime: FunctionRuntime,
        where: str,
    ) -> None:
        check_handler(where, handler)
        roles = [p for p in uses if isinstance(p, RolePolicy)]
        if len(roles) > 1:
            raise DeclarationError(
                where, "uses= holds two execution roles", "give a function one role"
            )
        for permission in uses:
            if isinstance(permission, RolePolicy):
                continue
            if not isinstance(permission, Permission):
                raise DeclarationError(
                    where,
                    f"uses= holds {permission!r}, not a permission",
                    "pass e.g. uses=[orders.writes, topic.publishes]",
                )
            registries: dict[str, Mapping[str, Any]] = {
                "queue": self._queues,
                "table": self._tables,
                "topic": self._topics,
                "sms": {self.sms.name: self.sms},
                "iot": {} if self._iot is None else {self._iot.name: self._iot},
            }
            known = registries.get(permission.kind, {})
            if permission.name not in known:
                raise DeclarationError(
                    where,
                    f"uses={permission.label} names a {permission.kind} "
                    f"not declared in app '{self.name}'",
                    f"declare the {permission.kind} in this app first",
                )
        self._functions[name] = FunctionSpec(
            name,
            handler,
            source,
            tuple(p for p in uses if isinstance(p, Permission)),
            runtime.timeout,
            runtime.memory_size,
            runtime.environment,
            runtime.reserved_concurrency,
            handler.code if isinstance(handler, CodeHandler) else None,
            roles[0] if roles else None,
        )
