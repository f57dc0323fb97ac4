"""Declaring what connects resources without a function of the app's own in between: routes
(API Gateway's SQS and DynamoDB integrations) and pipes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sluiceway.apigateway.models import compile_model
from sluiceway.apigateway.spec import QueueTarget, RouteSpec, ServiceRouteSpec, TableTarget
from sluiceway.apigateway.validation import HEADER, PATH
from sluiceway.app._declarations import Declarations
from sluiceway.awslambda.spec import (
    STARTING_POSITIONS,
    QueueSource,
    StreamSource,
)
from sluiceway.awslambda.validation import filter_patterns
from sluiceway.cognito.spec import AuthSpec
from sluiceway.core import validation
from sluiceway.core.errors import DeclarationError
from sluiceway.dynamodb.handle import Table
from sluiceway.pipes.spec import PipeSpec, PipeTarget
from sluiceway.pipes.validation import PIPE_NAME
from sluiceway.sns.handle import Topic
from sluiceway.sqs.handle import Queue

_METHODS = ("POST", "PUT", "PATCH")  # what a route into a queue or a table answers
SERVICE_INTEGRATIONS = ("sqs", "sns", "dynamodb")  # the AWS integrations a route may have


class IntegrationDeclarations(Declarations):
    def route(
        self,
        method: str,
        path: str,
        *,
        to: Queue | Table,
        forward_headers: Sequence[str] = (),
        model: Mapping[str, Any] | str | None = None,
        overwrite: bool = False,
        auth: AuthSpec | None = None,
    ) -> RouteSpec:
        """Declare an HTTP route that hands the request body to a queue or a table, as API
        Gateway's service integrations do, without a function.

        To a queue (SQS SendMessage): the body is the message; `forward_headers` become
        message attributes of the same name.

        To a table (DynamoDB PutItem): the JSON object body is the item. Its key attributes
        are required; `model` (a JSON Schema, draft 4, as API Gateway's request models) adds
        rules; a bad body gets a 400 naming each problem. With ``overwrite=False`` (the
        default) an existing key gets a 409 and nothing changes; with True the item is
        replaced. The answer is ``{"key": {...}}``.

        With `auth` (``pool.requires("devices/send")``) a request needs an access token of
        that pool with one of those scopes in its ``Authorization`` header; otherwise it
        gets a 401 (no or bad token) or 403 (a token without the scope), and nothing is
        stored."""
        method = method.upper() if isinstance(method, str) else method
        where = f"route {method} {path}"
        if method not in _METHODS:
            raise DeclarationError(
                where, f"method {method!r} cannot carry a body", "use POST, PUT or PATCH"
            )
        if not isinstance(path, str) or not PATH.fullmatch(path):
            raise DeclarationError(
                where,
                "a path starts with '/' and has segments of letters, digits and -._~",
                "e.g. '/orders'",
            )
        guard = self._auth(where, auth)
        target: QueueTarget | TableTarget
        if isinstance(to, Table):
            table = self._own(to, Table, where, "to")
            if forward_headers:
                raise DeclarationError(
                    where,
                    "forward_headers only apply to a queue route (they become attributes)",
                    "put what you need in the body",
                )
            if not isinstance(overwrite, bool):
                raise DeclarationError(where, "overwrite is True or False", "pass a bool")
            compiled = None if model is None else compile_model(model, where)
            target = TableTarget(
                table.name, None if compiled is None else compiled.source, overwrite
            )
            self._claim_route(where, method, path)
            spec = RouteSpec(method, path, target, (), guard)
            self._routes.append(spec)
            return spec
        if model is not None or overwrite:
            raise DeclarationError(
                where,
                "model= and overwrite= apply to a table route",
                "drop them, or route to a table",
            )
        queue = self._own(to, Queue, where, "to")
        headers = tuple(forward_headers)
        for header in headers:
            if not isinstance(header, str) or not HEADER.fullmatch(header):
                raise DeclarationError(
                    where,
                    f"{header!r} is not a valid header name",
                    "use a name like 'Idempotency-Key'",
                )
        self._claim_route(where, method, path)
        spec = RouteSpec(method, path, QueueTarget(queue.name), headers, guard)
        self._routes.append(spec)
        return spec

    def service_route(self, spec: ServiceRouteSpec) -> ServiceRouteSpec:
        """Declare an API Gateway method with an AWS service integration and its mapping
        templates, as a template's ``Integration: {Type: AWS}`` declares it (the template
        import builds `spec`; a Python app says the same with `route`)."""
        where = f"route {spec.method} {spec.path}"
        if spec.service not in SERVICE_INTEGRATIONS:
            raise DeclarationError(
                where,
                f"an AWS integration with {spec.service!r} is not emulated",
                "integrate with " + ", ".join(SERVICE_INTEGRATIONS) + " or a Lambda function",
            )
        if spec.action is None and spec.uri_path is None:
            raise DeclarationError(where, "the integration names no action or path", "set its Uri")
        self._auth(where, spec.auth)
        self._claim_route(where, spec.method, spec.path)
        self._service_routes.append(spec)
        return spec

    def pipe(
        self,
        name: str,
        *,
        source: Table | Queue,
        target: Callable[..., Any] | str | Queue | Topic,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        enrichment: Callable[..., Any] | str | None = None,
        batch_size: int | None = None,
        maximum_batching_window_in_seconds: int = 0,
        starting_position: str = "LATEST",
        maximum_retry_attempts: int = -1,
        maximum_record_age_in_seconds: int = -1,
        on_partial_batch_item_failure: str | None = None,
        parallelization_factor: int = 1,
        dead_letter: Queue | Topic | None = None,
    ) -> PipeSpec:
        """Declare an EventBridge Pipe from a table's stream (or a queue) to a function, a
        queue or a topic. A function (`target`, `enrichment`) is given by its handler or,
        when one handler serves several functions, by its name.

        `filter` is an event pattern (or up to 5, OR-ed) in the Pipes dialect: records that
        match none are skipped (a queue's are deleted). `enrichment` is a function (declared
        with `@app.function`) that gets the batch and returns what the target gets. A
        function target gets the batch as a JSON array and may report failures by
        ``eventID`` (a message's ``messageId``); a queue or topic target gets one message
        per record. From a stream: a failing batch is retried (`maximum_retry_attempts`,
        -1 until its records expire), split in two on each failure with
        ``on_partial_batch_item_failure="AUTOMATIC_BISECT"``, and what is given up goes to
        `dead_letter`. From a queue, the queue's own redrive policy applies."""
        where = f"pipe '{name}'"
        if not isinstance(name, str) or not PIPE_NAME.fullmatch(name):
            raise DeclarationError(
                where,
                "a pipe name is 1-64 characters of letters, digits, '.', '-' and '_'",
                "rename the pipe, e.g. 'users-to-sms'",
            )
        self._unique(self._pipes, name, "pipe")
        target_spec = self._pipe_target(where, target)
        enriched = (
            None if enrichment is None else self._function_of(where, "enrichment", enrichment)
        )
        filters = filter_patterns(where, filter, context="pipes")
        validation.in_range(
            where,
            "maximum_batching_window_in_seconds",
            maximum_batching_window_in_seconds,
            0,
            300,
            " seconds",
        )
        if on_partial_batch_item_failure not in (None, "AUTOMATIC_BISECT"):
            raise DeclarationError(
                where,
                f"on_partial_batch_item_failure={on_partial_batch_item_failure!r}",
                "use 'AUTOMATIC_BISECT' or leave it out",
            )
        pipe_source: StreamSource | QueueSource
        if isinstance(source, Queue):
            q = self._own(source, Queue, where, "source")
            size = 10 if batch_size is None else batch_size
            limit = 10 if q.spec.fifo or target_spec.kind == "queue" else 10_000
            validation.in_range(where, "batch_size", size, 1, limit, "")
            if size > 10 and maximum_batching_window_in_seconds < 1:
                raise DeclarationError(
                    where,
                    f"batch_size={size} needs a batching window (AWS requires one above 10)",
                    "set maximum_batching_window_in_seconds=1 or more",
                )
            stream_only = {
                "maximum_retry_attempts": maximum_retry_attempts != -1,
                "maximum_record_age_in_seconds": maximum_record_age_in_seconds != -1,
                "on_partial_batch_item_failure": on_partial_batch_item_failure is not None,
                "parallelization_factor": parallelization_factor != 1,
                "dead_letter": dead_letter is not None,
                "starting_position": starting_position != "LATEST",
            }
            used = [option for option, set_ in stream_only.items() if set_]
            if used:
                raise DeclarationError(
                    where,
                    f"{', '.join(used)} apply to a stream source",
                    "a queue source retries through the queue: give the queue a dead_letter "
                    "and max_receive_count",
                )
            pipe_source = QueueSource(
                q.name, size, maximum_batching_window_in_seconds, True, filters
            )
        else:
            t = self._own(source, Table, where, "source")
            if t.spec.stream is None:
                raise DeclarationError(
                    where,
                    f"table '{t.name}' has no stream",
                    f"declare app.table('{t.name}', ..., stream='NEW_AND_OLD_IMAGES')",
                )
            limit = 10 if target_spec.kind == "queue" else 10_000
            size = min(100, limit) if batch_size is None else batch_size
            validation.in_range(where, "batch_size", size, 1, limit, "")
            if starting_position not in STARTING_POSITIONS:
                raise DeclarationError(
                    where,
                    f"starting_position={starting_position!r} is not supported for streams",
                    "use 'TRIM_HORIZON' or 'LATEST'",
                )
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
            dead = (
                None
                if dead_letter is None
                else self._destination(where, dead_letter, "dead_letter")
            )
            pipe_source = StreamSource(
                t.name,
                size,
                maximum_batching_window_in_seconds,
                starting_position,
                filters,
                True,
                maximum_retry_attempts,
                maximum_record_age_in_seconds,
                on_partial_batch_item_failure == "AUTOMATIC_BISECT",
                dead,
                parallelization_factor,
            )
        spec = PipeSpec(name, pipe_source, target_spec, enriched)
        self._pipes[name] = spec
        return spec

    def _pipe_target(self, where: str, target: Any) -> PipeTarget:
        if isinstance(target, Queue):
            queue = self._own(target, Queue, where, "target")
            if queue.spec.fifo:
                raise DeclarationError(
                    where,
                    f"queue '{queue.name}' is FIFO; a pipe target here is a standard queue",
                    "target a standard queue, or a function that sends with a group id",
                )
            return PipeTarget("queue", queue.name)
        if isinstance(target, Topic):
            return PipeTarget("topic", self._own(target, Topic, where, "target").name)
        return PipeTarget("function", self._function_of(where, "target", target))
