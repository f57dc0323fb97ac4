"""`App`: where a system is declared, once, for every target.

Declaring is inert: it validates and records specs, and opens no file or socket. `sluiceway
run` binds the app to the local engine; the Lambda shim binds it to boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sluiceway import validation
from sluiceway.apigateway.models import compile_model
from sluiceway.backend import Backend
from sluiceway.core import naming
from sluiceway.core.attrvalue import KeyType
from sluiceway.core.errors import DeclarationError, NotBound, ValidationError
from sluiceway.resources import Iot, Queue, Sms, Table, Topic, UserPool
from sluiceway.specs import (
    PROTOCOLS,
    STARTING_POSITIONS,
    STREAM_VIEW_TYPES,
    AppGraph,
    AuthSpec,
    Destination,
    DirectSource,
    Endpoint,
    EventSource,
    FunctionSpec,
    HttpSource,
    IotSpec,
    ParameterRef,
    Permission,
    PipeSpec,
    PipeTarget,
    QueueSource,
    QueueSpec,
    QueueTarget,
    RouteSpec,
    StreamSource,
    SubscriptionSpec,
    TableSpec,
    TableTarget,
    TopicSource,
    TopicSpec,
)
from sluiceway.wafv2.firewall import Rule, WebACL, web_acl

F = TypeVar("F", bound=Callable[..., Any])

_METHODS = ("POST", "PUT", "PATCH")


class App:
    """A declared system: queues, tables, topics, routes and the functions between them.

    >>> app = App("orders")
    >>> queue = app.queue("POC-Queue", visibility_timeout=30)
    >>> orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")
    >>> @app.on_queue(queue, uses=[orders.writes])
    ... def ingest(event, context):
    ...     for record in event["Records"]:
    ...         orders.put_item({"orderID": record["messageId"], "order": record["body"]})
    """

    def __init__(self, name: str) -> None:
        naming.check_app_name(name)
        self.name = name
        self._queues: dict[str, Queue] = {}
        self._tables: dict[str, Table] = {}
        self._topics: dict[str, Topic] = {}
        self._subscriptions: list[SubscriptionSpec] = []
        self._routes: list[RouteSpec] = []
        self._shapes: dict[tuple[str, str], str] = {}  # (method, path shape) -> what took it
        self._functions: dict[str, FunctionSpec] = {}
        self._pipes: dict[str, PipeSpec] = {}
        self._pools: dict[str, UserPool] = {}
        self._parameters: dict[str, ParameterRef] = {}
        self._iot: Iot | None = None
        self._firewall: WebACL | None = None
        self._backend: Backend | None = None
        # How another process imports this app again (set by `sluiceway.loader.load_app`):
        # what each function's execution environment loads. None: built in place.
        self.origin: str | None = None
        self.sms = Sms(self)
        """Texts straight to phone numbers: ``app.sms.publish(phone, text)``, with
        ``uses=[app.sms.sends]``."""

    # -- binding --------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise NotBound(
                f"app '{self.name}' is not running: run it with `sluiceway run`, or bind it "
                "with LocalEngine(app, ...) in tests"
            )
        return self._backend

    def bind(self, backend: Backend | None) -> None:
        """Attach the handles to a backend (the engine does this; users rarely need to)."""
        self._backend = backend

    @property
    def graph(self) -> AppGraph:
        """A frozen snapshot of everything declared so far."""
        return AppGraph(
            name=self.name,
            queues=tuple(q.spec for q in self._queues.values()),
            tables=tuple(t.spec for t in self._tables.values()),
            topics=tuple(t.spec for t in self._topics.values()),
            subscriptions=tuple(self._subscriptions),
            routes=tuple(self._routes),
            functions=tuple(self._functions.values()),
            parameters=tuple(self._parameters.values()),
            pipes=tuple(self._pipes.values()),
            user_pools=tuple(pool.spec for pool in self._pools.values()),
            iot=None if self._iot is None else self._iot.spec,
            firewall=self._firewall,
        )

    # -- parameters -----------------------------------------------------------------------

    def parameter(
        self, name: str, *, default: str | None = None, description: str = ""
    ) -> ParameterRef:
        """A value that differs per deployment; set with ``--set name=value`` or
        ``SLUICEWAY_<NAME>``, rendered as a template parameter on AWS."""
        naming.check_parameter_name(name)
        if name in self._parameters:
            raise DeclarationError(f"parameter {name!r}", "declared twice", "declare it once")
        ref = ParameterRef(name, default, description)
        self._parameters[name] = ref
        return ref

    # -- resources ------------------------------------------------------------------------

    def queue(
        self,
        name: str,
        *,
        visibility_timeout: int = 30,
        delay_seconds: int = 0,
        message_retention_period: int = 345_600,
        maximum_message_size: int = 1_048_576,
        dead_letter: Queue | None = None,
        max_receive_count: int | None = None,
        content_based_deduplication: bool = False,
    ) -> Queue:
        """Declare an SQS queue (options are SQS's attributes, in snake_case). A name ending
        in ``.fifo`` makes a FIFO queue: ordered per message group, deduplicated for 5 minutes
        (by the sender's deduplication id, or the body's SHA-256 with
        ``content_based_deduplication=True``)."""
        naming.check_queue_name(name)
        self._unique(self._queues, name, "queue")
        where = f"queue {name!r}"
        validation.in_range(where, "visibility_timeout", visibility_timeout, 0, 43_200, " seconds")
        validation.in_range(where, "delay_seconds", delay_seconds, 0, 900, " seconds")
        validation.in_range(
            where, "message_retention_period", message_retention_period, 60, 1_209_600, " s"
        )
        validation.in_range(
            where, "maximum_message_size", maximum_message_size, 1_024, 1_048_576, " bytes"
        )
        dlq_name: str | None = None
        if dead_letter is not None or max_receive_count is not None:
            if dead_letter is None or max_receive_count is None:
                raise DeclarationError(
                    where,
                    "a redrive policy needs both dead_letter and max_receive_count",
                    "pass dead_letter=<queue> together with max_receive_count=<1..1000>",
                )
            dlq = self._own(dead_letter, Queue, where, "dead_letter")
            validation.in_range(where, "max_receive_count", max_receive_count, 1, 1_000, "")
            if dlq.spec.fifo != name.endswith(".fifo"):
                raise DeclarationError(
                    where,
                    f"dead-letter queue '{dlq.name}' is not of the same type (standard/FIFO)",
                    "use a FIFO dead-letter queue for a FIFO queue and a standard one otherwise",
                )
            if dlq.name == name:
                raise DeclarationError(
                    where, "a queue cannot be its own dead-letter queue", "declare a separate queue"
                )
            dlq_name = dlq.name
        if content_based_deduplication and not name.endswith(".fifo"):
            raise DeclarationError(
                where,
                "content_based_deduplication applies to FIFO queues only",
                "name the queue '<name>.fifo' or drop the option",
            )
        spec = QueueSpec(
            name=name,
            visibility_timeout=visibility_timeout,
            delay_seconds=delay_seconds,
            message_retention_period=message_retention_period,
            maximum_message_size=maximum_message_size,
            dead_letter=dlq_name,
            max_receive_count=max_receive_count,
            content_based_deduplication=content_based_deduplication,
        )
        handle = Queue(self, spec)
        self._queues[name] = handle
        return handle

    def table(
        self,
        name: str,
        partition_key: str | tuple[str, KeyType],
        sort_key: str | tuple[str, KeyType] | None = None,
        stream: str | None = None,
        ttl_attribute: str | None = None,
    ) -> Table:
        """Declare a DynamoDB table. Keys are strings unless given as ``("id", "N")``.
        `ttl_attribute` names a number attribute holding an epoch-seconds expiry: expired
        items are deleted (with a REMOVE stream record marked as a TTL delete)."""
        naming.check_table_name(name)
        self._unique(self._tables, name, "table")
        where = f"table {name!r}"
        pk = validation.key_spec(where, "partition_key", partition_key)
        sk = None if sort_key is None else validation.key_spec(where, "sort_key", sort_key)
        if sk is not None and sk.name == pk.name:
            raise DeclarationError(
                where, "sort_key repeats the partition key", "choose another attribute"
            )
        if stream is not None and stream not in STREAM_VIEW_TYPES:
            raise DeclarationError(
                where,
                f"unknown stream view type {stream!r}",
                "use one of " + ", ".join(STREAM_VIEW_TYPES) + " (or stream=None)",
            )
        if ttl_attribute is not None and (
            not isinstance(ttl_attribute, str) or not 1 <= len(ttl_attribute.encode()) <= 255
        ):
            raise DeclarationError(
                where,
                f"ttl_attribute={ttl_attribute!r} is not an attribute name",
                "e.g. 'expiresAt'",
            )
        if ttl_attribute is not None and ttl_attribute in (pk.name, sk.name if sk else pk.name):
            raise DeclarationError(
                where, "ttl_attribute cannot be a key attribute", "use a separate attribute"
            )
        spec = TableSpec(
            name=name, partition_key=pk, sort_key=sk, stream=stream, ttl_attribute=ttl_attribute
        )
        handle = Table(self, spec)
        self._tables[name] = handle
        return handle

    def topic(self, name: str) -> Topic:
        """Declare an SNS topic; add subscriptions with `topic.subscribe(protocol, endpoint)`."""
        naming.check_topic_name(name)
        self._unique(self._topics, name, "topic")
        handle = Topic(self, TopicSpec(name))
        self._topics[name] = handle
        return handle

    def _subscribe(
        self,
        topic: Topic,
        protocol: str,
        endpoint: Endpoint,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
    ) -> None:
        shown = endpoint if isinstance(endpoint, str) else f"<{endpoint.name}>"
        where = f"subscription {protocol}:{shown} on topic '{topic.name}'"
        self._own(topic, Topic, where, "topic")
        if protocol not in PROTOCOLS:
            raise DeclarationError(
                where, f"unsupported protocol {protocol!r}", "use one of " + ", ".join(PROTOCOLS)
            )
        if isinstance(endpoint, ParameterRef):
            if self._parameters.get(endpoint.name) is not endpoint:
                raise DeclarationError(
                    where,
                    f"parameter '{endpoint.name}' is not declared in this app",
                    "declare it with app.parameter(...)",
                )
            if endpoint.default is not None:
                validation.check_endpoint(where, protocol, endpoint.default, self._queues)
        else:
            validation.check_endpoint(where, protocol, endpoint, self._queues)
        policy = validation.filter_policy(where, filter_policy, filter_policy_scope)
        spec = SubscriptionSpec(topic.name, protocol, endpoint, policy)
        if any(
            (s.topic, s.protocol, s.endpoint) == (topic.name, protocol, endpoint)
            for s in self._subscriptions
        ):
            raise DeclarationError(where, "declared twice", "subscribe each endpoint once")
        self._subscriptions.append(spec)

    # -- routes ---------------------------------------------------------------------------

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
        if not isinstance(path, str) or not validation.PATH.fullmatch(path):
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
            if not isinstance(header, str) or not validation.HEADER.fullmatch(header):
                raise DeclarationError(
                    where,
                    f"{header!r} is not a valid header name",
                    "use a name like 'Idempotency-Key'",
                )
        self._claim_route(where, method, path)
        spec = RouteSpec(method, path, QueueTarget(queue.name), headers, guard)
        self._routes.append(spec)
        return spec

    def _claim_route(self, where: str, method: str, path: str) -> None:
        shape = validation.route_shape(where, path)
        for other in ("ANY", method) if method != "ANY" else validation.HTTP_METHODS:
            taken = self._shapes.get((other, shape))
            if taken is not None:
                raise DeclarationError(
                    where, f"{taken} already answers {other} on this path", "use another path"
                )
        self._shapes[(method, shape)] = where

    # -- functions ------------------------------------------------------------------------

    def function(
        self,
        *,
        uses: Sequence[Permission] = (),
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
        uses: Sequence[Permission] = (),
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
            policy = validation.filter_policy(where, filter_policy, filter_policy_scope)
            self._add_function(handler, fname, TopicSource(t.name, policy), uses, runtime, where)
            return handler

        return record

    def on_http(
        self,
        method: str,
        path: str,
        *,
        auth: AuthSpec | None = None,
        uses: Sequence[Permission] = (),
        name: str | None = None,
        timeout: int = 3,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Serve `method` `path` with the decorated function (API Gateway's Lambda proxy
        integration). The function gets the API Gateway proxy event and returns
        ``{"statusCode": 200, "headers": {...}, "body": "..."}``. `path` may hold
        ``{name}`` segments (``event["pathParameters"]``) and a last greedy ``{name+}``."""

        def record(handler: F) -> F:
            fname = self._function_name(handler, name)
            verb = method.upper() if isinstance(method, str) else method
            where = f"function '{fname}' (on_http {verb} {path})"
            if verb not in validation.HTTP_METHODS:
                raise DeclarationError(
                    where,
                    f"method {method!r} is not an HTTP method API Gateway routes",
                    "use one of " + ", ".join(validation.HTTP_METHODS),
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
            guard = self._auth(where, auth)
            self._claim_route(where, verb, path)
            self._add_function(handler, fname, HttpSource(verb, path, guard), uses, runtime, where)
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
        uses: Sequence[Permission] = (),
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
                validation.filter_patterns(where, filter),
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
        uses: Sequence[Permission] = (),
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
            filters = validation.filter_patterns(where, filter)
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

    # -- OAuth2 ---------------------------------------------------------------------------

    def user_pool(
        self, name: str, *, domain: str | None = None, access_token_validity: int = 3600
    ) -> UserPool:
        """Declare a Cognito user pool for OAuth2 client credentials (machine to machine).

        Locally the runtime serves its token endpoint at ``POST /oauth2/token`` and its keys
        at ``/.well-known/jwks.json``; app clients are made with ``sluiceway clients
        create``. Declare scopes with `UserPool.resource_server`, then protect a route with
        ``auth=pool.requires("devices/send")``."""
        where = f"user pool '{name}'"
        validation.user_pool(where, name, domain, access_token_validity)
        self._unique(self._pools, name, "user pool")
        pool = UserPool(self, name, domain, access_token_validity)
        self._pools[name] = pool
        return pool

    def _auth(self, where: str, auth: Any) -> AuthSpec | None:
        if auth is None:
            return None
        if not isinstance(auth, AuthSpec) or auth.pool not in self._pools:
            raise DeclarationError(
                where,
                f"auth={auth!r} is not a requirement of a user pool of this app",
                "pass auth=pool.requires('resource/scope')",
            )
        return auth

    # -- the edge and devices -------------------------------------------------------------

    def firewall(self, rules: Iterable[Rule], default: str = "allow") -> WebACL:
        """Put a web ACL (AWS WAF) in front of the app's HTTP routes: `rules` are evaluated by
        priority before any authorizer; a blocked request gets 403 with a JSON body naming
        the rule. See `sluiceway.wafv2.firewall` for the statements.

            app.firewall([Rule("per-ip", 0, "block", rate_limit(100, window=60))])
        """
        if self._firewall is not None:
            raise DeclarationError(
                "firewall", "declared twice", "declare one app.firewall(...) with all its rules"
            )
        self._firewall = web_acl(rules, default)
        return self._firewall

    def iot(self, *, topics: Iterable[str] | str = ("#",)) -> Iot:
        """MQTT publishing through AWS IoT Core. `topics` are the names and filters
        (``devices/+/inbox``) a publish may use; the default allows any valid topic.

        Locally ``sluiceway run`` publishes to ``--mqtt mqtt://host:port`` or, without it, to
        a broker it embeds on a free port it prints."""
        if self._iot is not None:
            raise DeclarationError(
                "iot", "declared twice", "call app.iot(...) once and reuse the handle"
            )
        filters = (topics,) if isinstance(topics, str) else tuple(topics)
        try:
            self._iot = Iot(self, IotSpec(filters))
        except ValidationError as error:
            raise DeclarationError(
                "iot", str(error), "list topic names or MQTT filters (devices/+/inbox)"
            ) from None
        return self._iot

    # -- pipes ----------------------------------------------------------------------------

    def pipe(
        self,
        name: str,
        *,
        source: Table | Queue,
        target: Callable[..., Any] | Queue | Topic,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        enrichment: Callable[..., Any] | None = None,
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
        queue or a topic.

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
        if not isinstance(name, str) or not validation.PIPE_NAME.fullmatch(name):
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
        filters = validation.filter_patterns(where, filter, context="pipes")
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

    def _function_of(self, where: str, option: str, handler: Any) -> str:
        """The name of the function `handler` was declared as in this app."""
        for spec in self._functions.values():
            if spec.handler is handler:
                return spec.name
        raise DeclarationError(
            where,
            f"{option}={handler!r} is not a function declared in app '{self.name}'",
            "declare it first with @app.function(...) (or another app.on_* decorator)",
        )

    def _destination(self, where: str, handle: Queue | Topic, option: str) -> Destination:
        if isinstance(handle, Queue):
            return Destination("queue", self._own(handle, Queue, where, option).name)
        return Destination("topic", self._own(handle, Topic, where, option).name)

    # -- helpers --------------------------------------------------------------------------

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
    ) -> validation.FunctionRuntime:
        validation.in_range(where, "timeout", timeout, 1, 900, " seconds")
        validation.in_range(where, "memory_size", memory_size, 128, 10_240, " MB")
        if reserved_concurrency is not None:
            validation.in_range(where, "reserved_concurrency", reserved_concurrency, 1, 1_000, "")
        return validation.FunctionRuntime(
            timeout,
            memory_size,
            validation.environment_variables(where, environment),
            reserved_concurrency,
        )

    def _add_function(
        self,
        handler: Callable[..., Any],
        name: str,
        source: EventSource,
        uses: Sequence[Permission],
        runtime: validation.FunctionRuntime,
        where: str,
    ) -> None:
        validation.check_handler(where, handler)
        for permission in uses:
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
            tuple(uses),
            runtime.timeout,
            runtime.memory_size,
            runtime.environment,
            runtime.reserved_concurrency,
        )

    def _own(self, handle: Any, kind: type[Any], where: str, option: str) -> Any:
        registries: dict[type[Any], Mapping[str, Any]] = {
            Queue: self._queues,
            Table: self._tables,
            Topic: self._topics,
        }
        registry = registries[kind]
        noun = kind.__name__.lower()
        if not isinstance(handle, kind):
            raise DeclarationError(
                where,
                f"{option}={handle!r} is not a {noun} handle",
                f"pass the object app.{noun}(...) returned",
            )
        if registry.get(handle.name) is not handle:
            raise DeclarationError(
                where,
                f"{noun} '{handle.name}' is not declared in app '{self.name}'",
                f"declare it with app.{noun}('{handle.name}', ...) in this app",
            )
        return handle

    def _unique(self, registry: Mapping[str, Any], name: str, kind: str) -> None:
        if name in registry:
            raise DeclarationError(
                f"{kind} {name!r}",
                "declared twice",
                f"declare each {kind} once and reuse the handle",
            )

    def __repr__(self) -> str:
        return f"App({self.name!r})"
