"""The app graph as the local engine stores and uses it.

`sync` records the declared resources in the database when an app starts; `Registry.load`
reads them back. The engine and the CLI both work from a `Registry`, so a CLI command works
the same whether or not the runtime (or even the app's code) is there.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sluiceway.apigateway.info import RouteInfo
from sluiceway.apigateway.spec import TableTarget
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.spec import TopicSource
from sluiceway.cognito.spec import AuthSpec, ClientSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.core import ids, naming
from sluiceway.core.errors import DeclarationError, NotFound
from sluiceway.core.naming import Region
from sluiceway.core.specs import ParameterRef
from sluiceway.core.store import Store, Tx
from sluiceway.dynamodb import indexes
from sluiceway.dynamodb.info import TableInfo
from sluiceway.dynamodb.spec import IndexSpec, KeySpec, TableSpec
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.validation import check_endpoint
from sluiceway.sqs.info import QueueInfo
from sluiceway.sqs.spec import QueueSpec


@dataclass(frozen=True)
class Registry:
    region: Region
    queues: Mapping[str, QueueInfo]
    tables: Mapping[str, TableInfo]
    topics: Mapping[str, TopicInfo]
    routes: Mapping[tuple[str, str], RouteInfo]
    app: str = ""
    user_pools: tuple[UserPoolSpec, ...] = ()

    def refresh(self, store: Store) -> None:
        """Read the stored resources again, after the AWS APIs created or deleted some
        (``CreateQueue``, ``CreateTable``...). Every holder of this registry sees them: its
        mappings are replaced whole, never changed in place, so a reader iterating the old
        ones is not disturbed."""
        fresh = Registry.load(store, self.region)
        for name in ("queues", "tables", "topics", "routes"):
            object.__setattr__(self, name, getattr(fresh, name))

    def queue(self, name: str) -> QueueInfo:
        try:
            return self.queues[name]
        except KeyError:
            raise NotFound(f"no queue named '{name}' (known: {_names(self.queues)})") from None

    def table(self, name: str) -> TableInfo:
        try:
            return self.tables[name]
        except KeyError:
            raise NotFound(f"no table named '{name}' (known: {_names(self.tables)})") from None

    def topic(self, name: str) -> TopicInfo:
        try:
            return self.topics[name]
        except KeyError:
            raise NotFound(f"no topic named '{name}' (known: {_names(self.topics)})") from None

    def queue_by_id(self, queue_id: int) -> QueueInfo:
        for info in self.queues.values():
            if info.id == queue_id:
                return info
        raise NotFound(f"no queue with id {queue_id}")

    def route(self, method: str, path: str) -> RouteInfo:
        try:
            return self.routes[(method.upper(), path)]
        except KeyError:
            known = ", ".join(f"{m} {p}" for m, p in self.routes) or "none"
            raise NotFound(f"no route {method.upper()} {path} (known: {known})") from None

    @classmethod
    def load(cls, store: Store, region: Region) -> Registry:
        cx = store.reader()
        queues: dict[str, QueueInfo] = {}
        rows = cx.execute("SELECT id, name, config FROM queues").fetchall()
        ids = {name: qid for qid, name, _ in rows}
        for qid, name, config in rows:
            spec = QueueSpec(**json.loads(config))
            dlq = ids.get(spec.dead_letter) if spec.dead_letter else None
            queues[name] = QueueInfo(qid, spec, naming.queue_arn(region, name), dlq)
        tables: dict[str, TableInfo] = {}
        for tid, name, config, label in cx.execute(
            "SELECT id, name, config, stream_label FROM tables"
        ).fetchall():
            table = _table_spec(json.loads(config))
            stream = naming.stream_arn(region, name, label) if table.stream and label else None
            tables[name] = TableInfo(tid, table, naming.table_arn(region, name), stream)
        topics = {
            name: TopicInfo(tid, name, naming.topic_arn(region, name))
            for tid, name in cx.execute("SELECT id, name FROM topics").fetchall()
        }
        routes: dict[tuple[str, str], RouteInfo] = {}
        for method, path, config in cx.execute("SELECT method, path, config FROM routes"):
            data = json.loads(config)
            routes[(method, path)] = RouteInfo(
                method,
                path,
                data.get("queue"),
                tuple(data.get("forward_headers", ())),
                data.get("table"),
                data.get("model"),
                bool(data.get("overwrite", False)),
                None
                if data.get("auth") is None
                else AuthSpec(data["auth"]["pool"], tuple(data["auth"]["scopes"])),
            )
        meta = dict(cx.execute("SELECT key, value FROM meta WHERE key IN ('app', 'user_pools')"))
        pools = tuple(_user_pool(p) for p in json.loads(meta.get("user_pools", "[]")))
        return cls(region, queues, tables, topics, routes, meta.get("app", ""), pools)


def _names(mapping: Mapping[str, Any]) -> str:
    return ", ".join(sorted(mapping)) or "none"


def _table_spec(config: dict[str, Any]) -> TableSpec:
    sort_key = config.get("sort_key")
    return TableSpec(
        name=config["name"],
        partition_key=KeySpec(**config["partition_key"]),
        sort_key=KeySpec(**sort_key) if sort_key else None,
        stream=config.get("stream"),
        ttl_attribute=config.get("ttl_attribute"),
        global_indexes=tuple(_index_spec(i) for i in config.get("global_indexes", ())),
        local_indexes=tuple(_index_spec(i) for i in config.get("local_indexes", ())),
    )


def _index_spec(config: dict[str, Any]) -> IndexSpec:
    sort_key = config.get("sort_key")
    return IndexSpec(
        name=config["name"],
        partition_key=KeySpec(**config["partition_key"]),
        sort_key=KeySpec(**sort_key) if sort_key else None,
        projection=config.get("projection", "ALL"),
        non_key_attributes=tuple(config.get("non_key_attributes", ())),
    )


# -- syncing a declared app into the store --------------------------------------------------


@dataclass(frozen=True)
class NewSubscription:
    topic: str
    protocol: str
    endpoint: str
    arn: str
    token: str


def resolve_parameters(
    graph: AppGraph, values: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, str]:
    """Each declared parameter's value: ``--set`` first, then ``SLUICEWAY_<NAME>``, then the
    default. A parameter with no value anywhere is an error naming how to give one."""
    unknown = set(values) - {p.name for p in graph.parameters}
    if unknown:
        known = ", ".join(p.name for p in graph.parameters) or "none"
        raise DeclarationError(
            f"--set {sorted(unknown)[0]}",
            f"app '{graph.name}' declares no such parameter",
            f"use one of: {known}",
        )
    resolved: dict[str, str] = {}
    for parameter in graph.parameters:
        value = values.get(parameter.name, env.get(parameter.env_var, parameter.default))
        if value is None:
            raise DeclarationError(
                f"parameter '{parameter.name}'",
                "has no value",
                f"pass --set {parameter.name}=... or set {parameter.env_var}",
            )
        resolved[parameter.name] = value
    return resolved


def endpoint_value(endpoint: str | ParameterRef, parameters: Mapping[str, str]) -> str:
    return parameters[endpoint.name] if isinstance(endpoint, ParameterRef) else endpoint


def sync(
    store: Store,
    graph: AppGraph,
    region: Region,
    parameters: Mapping[str, str],
    *,
    auto_confirm: bool,
) -> tuple[Registry, list[NewSubscription]]:
    """Record the app's resources; return the registry and the subscriptions that now wait
    for confirmation (a confirmation message has been queued for each)."""
    for sub in graph.subscriptions:
        if isinstance(sub.endpoint, ParameterRef):
            where = f"subscription {sub.protocol} on topic '{sub.topic}'"
            check_endpoint(
                f"{where} ({sub.endpoint.name})", sub.protocol, parameters[sub.endpoint.name]
            )
    pending = store.write(lambda tx: _sync(tx, graph, region, parameters, auto_confirm))
    return Registry.load(store, region), pending


def _sync(
    tx: Tx,
    graph: AppGraph,
    region: Region,
    parameters: Mapping[str, str],
    auto_confirm: bool,
) -> list[NewSubscription]:
    for queue in graph.queues:
        tx.execute(
            "INSERT INTO queues (name, config, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config",
            (queue.name, json.dumps(dataclasses.asdict(queue)), tx.now_ms),
        )
    for table in graph.tables:
        _sync_table(tx, table)
    for topic in graph.topics:
        tx.execute(
            "INSERT INTO topics (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (topic.name, tx.now_ms),
        )
    for key, value in (
        ("app", graph.name),
        ("user_pools", json.dumps([dataclasses.asdict(pool) for pool in graph.user_pools])),
    ):
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
    tx.execute("DELETE FROM routes")
    for route in graph.routes:
        config: dict[str, Any]
        if isinstance(route.target, TableTarget):
            config = {
                "table": route.target.table,
                "model": route.target.model,
                "overwrite": route.target.overwrite,
            }
        else:
            config = {"queue": route.target.queue, "forward_headers": list(route.forward_headers)}
        if route.auth is not None:
            config["auth"] = {"pool": route.auth.pool, "scopes": list(route.auth.scopes)}
        tx.execute(
            "INSERT INTO routes (method, path, config) VALUES (?, ?, ?)",
            (route.method, route.path, json.dumps(config)),
        )
    return _sync_subscriptions(tx, graph, region, parameters, auto_confirm)


def _sync_table(tx: Tx, table: TableSpec) -> None:
    config = json.dumps(dataclasses.asdict(table))
    row = tx.execute(
        "SELECT config, stream_label, id FROM tables WHERE name = ?", (table.name,)
    ).fetchone()
    label = _stream_label(tx.now) if table.stream else None
    if row is None:
        tx.execute(
            "INSERT INTO tables (name, config, stream_label, created_at) VALUES (?, ?, ?, ?)",
            (table.name, config, label, tx.now_ms),
        )
        return
    stored = _table_spec(json.loads(row[0]))
    if (stored.partition_key, stored.sort_key) != (table.partition_key, table.sort_key):
        raise DeclarationError(
            f"table '{table.name}'",
            f"the data directory holds it with key schema {stored.key_schema}, the app declares "
            f"{table.key_schema}; a table's keys cannot change",
            "keep the old key schema, or use a new table name or a fresh --data-dir",
        )
    # A stream keeps its label (its ARN) while enabled; re-enabling makes a new one, as on AWS.
    keep = row[1] if (stored.stream is not None and table.stream is not None) else label
    tx.execute(
        "UPDATE tables SET config = ?, stream_label = ? WHERE name = ?", (config, keep, table.name)
    )
    if stored.indexes != table.indexes:
        # An index declared (or changed) on a table with items: written from them at once.
        indexes.rebuild(tx, row[2], table)


def _raw_delivery(stored: str | None, raw: bool) -> str | None:
    """A declared subscription's attributes: those stored (SetSubscriptionAttributes may have
    set some) with RawMessageDelivery as declared, kept as SNS's API keeps it."""
    attributes = json.loads(stored or "{}")
    if raw:
        attributes["RawMessageDelivery"] = "true"
    else:
        attributes.pop("RawMessageDelivery", None)
    return json.dumps(attributes) if attributes else None


def _user_pool(data: Mapping[str, Any]) -> UserPoolSpec:
    servers = tuple(
        ResourceServerSpec(s["identifier"], s["name"], tuple(tuple(pair) for pair in s["scopes"]))
        for s in data["resource_servers"]
    )
    clients = tuple(
        ClientSpec(c["client_id"], c["name"], tuple(c["scopes"])) for c in data.get("clients", ())
    )
    return UserPoolSpec(
        data["name"], data["domain"], servers, data["access_token_validity"], clients
    )


def _stream_label(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _sync_subscriptions(
    tx: Tx,
    graph: AppGraph,
    region: Region,
    parameters: Mapping[str, str],
    auto_confirm: bool,
) -> list[NewSubscription]:
    topic_ids = dict(tx.execute("SELECT name, id FROM topics").fetchall())
    declared: set[tuple[int, str, str]] = set()
    pending: list[NewSubscription] = []
    # An sqs subscription's endpoint is its queue's ARN, as Subscribe stores it (publishing
    # finds the queue by it); RawMessageDelivery is kept among its attributes, as there.
    wanted = [
        (
            sub.topic,
            sub.protocol,
            naming.queue_arn(region, endpoint_value(sub.endpoint, parameters))
            if sub.protocol == "sqs"
            else endpoint_value(sub.endpoint, parameters),
            sub.filter_policy,
            sub.raw_message_delivery,
        )
        for sub in graph.subscriptions
    ]
    # A function on a topic is a "lambda" subscription named after the function.
    wanted += [
        (f.source.topic, "lambda", f.name, f.source.filter_policy, False)
        for f in graph.functions
        if isinstance(f.source, TopicSource)
    ]
    for topic, protocol, endpoint, policy, raw in wanted:
        topic_id = topic_ids[topic]
        declared.add((topic_id, protocol, endpoint))
        row = tx.execute(
            "SELECT id, status, arn, attributes FROM subscriptions "
            "WHERE topic_id = ? AND protocol = ? AND endpoint = ?",
            (topic_id, protocol, endpoint),
        ).fetchone()
        attributes = _raw_delivery(None if row is None else row[3], raw)
        # SNS confirms same-account SQS and Lambda subscriptions at once, and SMS ones (the
        # number's owner opts out by replying STOP); email and http wait for the owner.
        confirm_now = auto_confirm or protocol in ("sqs", "lambda", "sms")
        if row is not None:
            tx.execute(
                "UPDATE subscriptions SET filter_policy = ?, filter_scope = ?, attributes = ? "
                "WHERE id = ?",
                (
                    None if policy is None else policy.policy,
                    None if policy is None else policy.scope,
                    attributes,
                    row[0],
                ),
            )
        if row is not None and row[1] != "deleted":
            if row[1] == "pending" and confirm_now:
                tx.execute(
                    "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
                    (tx.now_ms, row[0]),
                )
            continue
        arn = row[2] if row is not None else f"{naming.topic_arn(region, topic)}:{ids.uuid4()}"
        token = secrets.token_hex(32)
        status = "confirmed" if confirm_now else "pending"
        confirmed_at = tx.now_ms if confirm_now else None
        if row is None:
            sid = tx.execute(
                "INSERT INTO subscriptions (topic_id, protocol, endpoint, arn, status, token, "
                "created_at, confirmed_at, filter_policy, filter_scope, attributes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    topic_id,
                    protocol,
                    endpoint,
                    arn,
                    status,
                    token,
                    tx.now_ms,
                    confirmed_at,
                    None if policy is None else policy.policy,
                    None if policy is None else policy.scope,
                    attributes,
                ),
            ).lastrowid
        else:
            sid = row[0]
            tx.execute(
                "UPDATE subscriptions SET status = ?, token = ?, created_at = ?, confirmed_at = ? "
                "WHERE id = ?",
                (status, token, tx.now_ms, confirmed_at, sid),
            )
        if status == "pending":
            tx.execute(
                "INSERT INTO deliveries (subscription_id, kind, protocol, endpoint, status, "
                "next_attempt_at, created_at) VALUES (?, 'confirmation', ?, ?, 'pending', ?, ?)",
                (sid, protocol, endpoint, tx.now_ms, tx.now_ms),
            )
            tx.touch("deliveries")
            pending.append(NewSubscription(topic, protocol, endpoint, arn, token))
    # Subscriptions no longer declared are removed, as CloudFormation would remove them;
    # those SNS's API made (Subscribe) are not declared, and stay.
    for sid, topic_id, protocol, endpoint in tx.execute(
        "SELECT id, topic_id, protocol, endpoint FROM subscriptions "
        "WHERE status != 'deleted' AND origin IS NULL"
    ).fetchall():
        if (topic_id, protocol, endpoint) not in declared:
            tx.execute("UPDATE subscriptions SET status = 'deleted' WHERE id = ?", (sid,))
            tx.execute(
                "UPDATE deliveries SET status = 'cancelled', last_error = 'subscription removed' "
                "WHERE subscription_id = ? AND status = 'pending'",
                (sid,),
            )
    return pending
