"""`App`: where a system is declared, once, for every target.

Declaring is inert: it validates and records specs, and opens no file or socket. `sluiceway
run` binds the app to the local engine; the Lambda shim binds it to boto3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sluiceway.apigateway.spec import RouteSpec, ServiceRouteSpec
from sluiceway.app._functions import FunctionDeclarations
from sluiceway.app._integrations import IntegrationDeclarations
from sluiceway.app.backend import Backend
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.spec import (
    FunctionSpec,
)
from sluiceway.cognito.handle import UserPool
from sluiceway.cognito.validation import user_pool
from sluiceway.core import naming, validation
from sluiceway.core.attrvalue import KeyType
from sluiceway.core.errors import DeclarationError, NotBound, ValidationError
from sluiceway.core.specs import Deployment, Endpoint, ParameterRef
from sluiceway.dynamodb.handle import Table
from sluiceway.dynamodb.spec import STREAM_VIEW_TYPES, GlobalIndex, LocalIndex, TableSpec
from sluiceway.dynamodb.validation import index_specs, key_spec
from sluiceway.iot import rule_checks
from sluiceway.iot.handle import Iot
from sluiceway.iot.spec import IotSpec, RuleAction, TopicRuleSpec
from sluiceway.pipes.spec import PipeSpec
from sluiceway.sns import validation as sns_validation
from sluiceway.sns.handle import Sms, Topic
from sluiceway.sns.spec import AWS_MANAGED_KEY, PROTOCOLS, SubscriptionSpec, TopicSpec
from sluiceway.sns.validation import check_endpoint
from sluiceway.sqs.handle import Queue
from sluiceway.sqs.spec import QueueSpec
from sluiceway.wafv2.rules import Rule, WebACL, web_acl


class App(FunctionDeclarations, IntegrationDeclarations):
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
        self._service_routes: list[ServiceRouteSpec] = []
        self._shapes: dict[tuple[str, str], str] = {}  # (method, path shape) -> what took it
        self._functions: dict[str, FunctionSpec] = {}
        self._pipes: dict[str, PipeSpec] = {}
        self._pools: dict[str, UserPool] = {}
        self._parameters: dict[str, ParameterRef] = {}
        self._iot: Iot | None = None
        self._topic_rules: dict[str, TopicRuleSpec] = {}
        self._firewall: WebACL | None = None
        self._deployment = Deployment()
        self._backend: Backend | None = None
        # How another process imports this app again (set by `sluiceway.app.loader.load_app`):
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
                f"app '{self.name}' is not running: run it with `sluiceway run`, or in a test "
                "with sluiceway.testing.run_app(app) (the `sluiceway` pytest fixture)"
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
            service_routes=tuple(self._service_routes),
            functions=tuple(self._functions.values()),
            parameters=tuple(self._parameters.values()),
            pipes=tuple(self._pipes.values()),
            user_pools=tuple(pool.spec for pool in self._pools.values()),
            iot=None if self._iot is None else self._iot.spec,
            topic_rules=tuple(self._topic_rules.values()),
            firewall=self._firewall,
            deployment=self._deployment,
        )

    def deployment(self, *, tracing: bool = True, access_logs: bool = True) -> Deployment:
        """How the app is observed on AWS (both on unless turned off here): X-Ray `tracing`
        of its API stage and its functions (``TracingEnabled``, ``Tracing: Active``), and
        its API's `access_logs` (``AccessLogSetting`` to a log group kept a year). Locally
        every request is traced either way."""
        if not isinstance(tracing, bool) or not isinstance(access_logs, bool):
            raise DeclarationError(
                f"app '{self.name}' deployment",
                "tracing and access_logs are True or False",
                "pass app.deployment(tracing=False) or access_logs=False to turn one off",
            )
        self._deployment = Deployment(tracing=tracing, access_logs=access_logs)
        return self._deployment

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
        global_indexes: Sequence[GlobalIndex] = (),
        local_indexes: Sequence[LocalIndex] = (),
    ) -> Table:
        """Declare a DynamoDB table. Keys are strings unless given as ``("id", "N")``.
        `ttl_attribute` names a number attribute holding an epoch-seconds expiry: expired
        items are deleted (with a REMOVE stream record marked as a TTL delete).
        `global_indexes` and `local_indexes` declare secondary indexes (`GlobalIndex`,
        `LocalIndex`), queried with ``table.query(IndexName=..., ...)``."""
        naming.check_table_name(name)
        self._unique(self._tables, name, "table")
        where = f"table {name!r}"
        pk = key_spec(where, "partition_key", partition_key)
        sk = None if sort_key is None else key_spec(where, "sort_key", sort_key)
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
        global_specs, local_specs = index_specs(where, (pk, sk), global_indexes, local_indexes)
        spec = TableSpec(
            name=name,
            partition_key=pk,
            sort_key=sk,
            stream=stream,
            ttl_attribute=ttl_attribute,
            global_indexes=global_specs,
            local_indexes=local_specs,
        )
        handle = Table(self, spec)
        self._tables[name] = handle
        return handle

    def topic(self, name: str, *, kms_key: str | None = AWS_MANAGED_KEY) -> Topic:
        """Declare an SNS topic; add subscriptions with `topic.subscribe(protocol, endpoint)`.

        On AWS its messages are encrypted at rest with `kms_key`: SNS's AWS-managed key
        (``alias/aws/sns``) unless another key's alias, id or ARN is given; None stores them
        unencrypted (a publisher such as CloudWatch alarms cannot use the AWS-managed key)."""
        naming.check_topic_name(name)
        self._unique(self._topics, name, "topic")
        if kms_key is not None and (not isinstance(kms_key, str) or not kms_key.strip()):
            raise DeclarationError(
                f"topic '{name}'",
                f"kms_key={kms_key!r} is not a key",
                "give a KMS key's alias (alias/...), id or ARN, or None",
            )
        handle = Topic(self, TopicSpec(name, kms_key))
        self._topics[name] = handle
        return handle

    def _subscribe(
        self,
        topic: Topic,
        protocol: str,
        endpoint: Endpoint | Queue,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
        raw_message_delivery: bool = False,
    ) -> None:
        if isinstance(endpoint, Queue):
            shown = f"queue '{endpoint.name}'"
        else:
            shown = endpoint if isinstance(endpoint, str) else f"<{endpoint.name}>"
        where = f"subscription {protocol}:{shown} on topic '{topic.name}'"
        self._own(topic, Topic, where, "topic")
        if protocol not in PROTOCOLS:
            raise DeclarationError(
                where, f"unsupported protocol {protocol!r}", "use one of " + ", ".join(PROTOCOLS)
            )
        if raw_message_delivery and protocol != "sqs":
            raise DeclarationError(
                where,
                f"raw_message_delivery is for sqs subscriptions, not {protocol}",
                "leave it out",
            )
        if protocol == "sqs":
            endpoint = self._subscribed_queue(where, topic, endpoint).name
        elif isinstance(endpoint, Queue):
            raise DeclarationError(
                where, f"a queue is not a {protocol} endpoint", "subscribe it with protocol 'sqs'"
            )
        elif isinstance(endpoint, ParameterRef):
            if self._parameters.get(endpoint.name) is not endpoint:
                raise DeclarationError(
                    where,
                    f"parameter '{endpoint.name}' is not declared in this app",
                    "declare it with app.parameter(...)",
                )
            if endpoint.default is not None:
                check_endpoint(where, protocol, endpoint.default, self._queues)
        else:
            check_endpoint(where, protocol, endpoint, self._queues)
        policy = sns_validation.filter_policy(where, filter_policy, filter_policy_scope)
        spec = SubscriptionSpec(topic.name, protocol, endpoint, policy, raw_message_delivery)
        if any(
            (s.topic, s.protocol, s.endpoint) == (topic.name, protocol, endpoint)
            for s in self._subscriptions
        ):
            raise DeclarationError(where, "declared twice", "subscribe each endpoint once")
        self._subscriptions.append(spec)

    def _subscribed_queue(self, where: str, topic: Topic, endpoint: Any) -> Queue:
        """The queue of an ``sqs`` subscription: a standard queue of this app, by its handle
        (its ARN differs per deployment, so a name or ARN is no endpoint to declare)."""
        if not isinstance(endpoint, Queue):
            raise DeclarationError(
                where,
                f"the endpoint of an sqs subscription is a queue of the app, not {endpoint!r}",
                "pass the queue's handle: topic.subscribe('sqs', app.queue(...))",
            )
        queue: Queue = self._own(endpoint, Queue, where, "endpoint")
        if queue.spec.fifo:
            reason = (
                "sluiceway does not deliver a FIFO topic to FIFO queues yet"
                if topic.name.endswith(".fifo")
                else "SNS does not subscribe a FIFO queue to a standard topic"
            )
            raise DeclarationError(where, reason, "subscribe a standard queue")
        return queue

    # -- functions ------------------------------------------------------------------------

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
        user_pool(where, name, domain, access_token_validity)
        self._unique(self._pools, name, "user pool")
        pool = UserPool(self, name, domain, access_token_validity)
        self._pools[name] = pool
        return pool

    # -- the edge and devices -------------------------------------------------------------

    def firewall(self, rules: Iterable[Rule], default: str = "allow") -> WebACL:
        """Put a web ACL (AWS WAF) in front of the app's HTTP routes: `rules` are evaluated by
        priority before any authorizer; a blocked request gets 403 with a JSON body naming
        the rule. See `sluiceway.firewall` for the statements.

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

    def topic_rule(
        self,
        name: str,
        sql: str,
        actions: Iterable[RuleAction],
        *,
        enabled: bool = True,
        error_action: RuleAction | None = None,
    ) -> TopicRuleSpec:
        """An AWS IoT Core topic rule: each message published to the MQTT broker that its
        `sql` selects (``SELECT * FROM 'sensors/+/data' WHERE temperature > 30``, AWS IoT SQL
        2016-03-23; see `sluiceway.iot.rule_sql` for the subset) runs its `actions`, the
        `sluiceway.iot.spec` actions naming resources declared before the rule:

            app.topic_rule("hot", "SELECT *, topic(2) AS device FROM 'sensors/+/data' "
                           "WHERE temperature > 30", [InvokeFunction("alert"),
                           SendToQueue(queue.name)])

        Locally ``sluiceway run`` subscribes to ``--mqtt``'s broker (or the embedded one)
        and acknowledges a message once its actions are committed."""
        spec = TopicRuleSpec(name, sql, tuple(actions), enabled, error_action)
        where = f"topic rule '{name}'"
        if name in self._topic_rules:
            raise DeclarationError(where, "declared twice", "give each rule its own name")
        try:
            rule_checks.compile_rule(
                spec,
                functions=self._functions,
                queues_=self._queues,
                topics_=self._topics,
                tables_=self._tables,
            )
        except ValidationError as error:
            raise DeclarationError(
                where,
                str(error),
                "use the SQL subset of sluiceway.iot.rule_sql and actions on resources "
                "declared before the rule",
            ) from None
        self._topic_rules[name] = spec
        return spec

    # -- helpers --------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"App({self.name!r})"
