"""The pipeline map: the app's resources and the arrows between them, laid out in columns.

Built once from the app graph (`build`); its live counts are read on every refresh
(`counts`). Columns follow the flow: a node sits one column right of the furthest node
that feeds it, so route -> queue -> function -> table -> stream -> function -> topic ->
subscription reads left to right.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import assert_never
from urllib.parse import quote, urlencode

from sluiceway.apigateway.spec import QueueTarget, TableTarget
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda import pausing
from sluiceway.awslambda.queue_mapping import QueueMapping
from sluiceway.awslambda.spec import (
    DirectSource,
    FunctionSpec,
    HttpSource,
    QueueSource,
    ScheduleSource,
    StreamSource,
    TopicSource,
)
from sluiceway.awslambda.stream_mapping import StreamMapping
from sluiceway.core.specs import ParameterRef
from sluiceway.dynamodb import tables
from sluiceway.iot.iam import IOT_PUBLISH_ACTIONS
from sluiceway.local.counters import Metrics
from sluiceway.local.registry import Registry
from sluiceway.sns.iam import TOPIC_PUBLISH_ACTIONS
from sluiceway.sqs import queues
from sluiceway.sqs.iam import QUEUE_SEND_ACTIONS

NODE_WIDTH = 164
NODE_HEIGHT = 60
COLUMN_STEP = 204
ROW_STEP = 80
MARGIN = 16
_TABLE_WRITES = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)


@dataclass
class Node:
    id: str
    # route, schedule, queue, function, table, stream, pipe, topic, subscription, sms, mqtt
    kind: str
    name: str
    href: str | None = None
    column: int = 0
    row: int = 0

    @property
    def x(self) -> int:
        return MARGIN + self.column * COLUMN_STEP

    @property
    def y(self) -> int:
        return MARGIN + self.row * ROW_STEP

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= 20 else self.name[:19] + "…"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    failure: bool = False  # a dead-letter or on-failure path (drawn dashed)


@dataclass
class Pipeline:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str, label: str = "", *, failure: bool = False) -> None:
        edge = Edge(source, target, label, failure)
        if edge not in self.edges:
            self.edges.append(edge)

    @property
    def width(self) -> int:
        columns = max((n.column for n in self.nodes.values()), default=0)
        return 2 * MARGIN + columns * COLUMN_STEP + NODE_WIDTH

    @property
    def height(self) -> int:
        rows = max((n.row for n in self.nodes.values()), default=0)
        return 2 * MARGIN + rows * ROW_STEP + NODE_HEIGHT + 24

    def path(self, edge: Edge) -> str:
        """The SVG path of an arrow: a curve from the right side of its source to the left
        side of its target (a loop under both when it runs backwards)."""
        a, b = self.nodes[edge.source], self.nodes[edge.target]
        x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT // 2
        x2, y2 = b.x, b.y + NODE_HEIGHT // 2
        if b.column > a.column:
            bend = (x2 - x1) // 2
            return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
        low = max(a.y, b.y) + NODE_HEIGHT + 18
        return f"M{x1},{y1} C{x1 + 60},{low} {x2 - 60},{low} {x2},{y2}"

    def label_at(self, edge: Edge) -> tuple[int, int]:
        a, b = self.nodes[edge.source], self.nodes[edge.target]
        return (a.x + NODE_WIDTH + b.x) // 2, (a.y + b.y + NODE_HEIGHT) // 2 - 4


def _q(name: str) -> str:
    return quote(name, safe="")


def _endpoint(endpoint: str | ParameterRef, parameters: Mapping[str, str]) -> str:
    if isinstance(endpoint, ParameterRef):
        return parameters.get(endpoint.name, endpoint.default or f"${{{endpoint.name}}}")
    return endpoint


def build(graph: AppGraph, parameters: Mapping[str, str]) -> Pipeline:
    """The map of `graph`, laid out."""
    p = _Builder()
    for route in graph.routes:
        node = p.route(route.method, route.path)
        target = route.target
        if isinstance(target, QueueTarget):
            p.link(node, p.queue(target.queue))
        elif isinstance(target, TableTarget):
            p.link(node, p.table(target.table))
    for queue in graph.queues:
        node = p.queue(queue.name)
        if queue.dead_letter:
            after = f"after {queue.max_receive_count}" if queue.max_receive_count else ""
            p.link(node, p.queue(queue.dead_letter), after, failure=True)
    for table in graph.tables:
        p.table(table.name)
        if table.stream:
            p.stream(table.name)
    for topic in graph.topics:
        p.topic(topic.name)
    for function in graph.functions:
        p.function_edges(function)
    for pipe in graph.pipes:
        node = p.add(Node(f"pipe:{pipe.name}", "pipe", pipe.name, "/console/mappings"))
        source = pipe.source
        if isinstance(source, QueueSource):
            p.link(p.queue(source.queue), node)
        else:
            p.link(p.stream(source.table), node)
            if source.on_failure is not None:
                failed = source.on_failure
                p.link(node, p.destination(failed.kind, failed.name), "on failure", failure=True)
        if pipe.enrichment:
            p.link(node, p.function(pipe.enrichment), "enrich")
        p.link(node, p.destination(pipe.target.kind, pipe.target.name))
    for sub in graph.subscriptions:
        endpoint = _endpoint(sub.endpoint, parameters)
        href = "/console/deliveries?" + urlencode({"topic": sub.topic, "protocol": sub.protocol})
        node = p.add(
            Node(
                subscription_id(sub.topic, sub.protocol, endpoint),
                "subscription",
                f"{sub.protocol}: {endpoint}",
                href,
            )
        )
        p.link(p.topic(sub.topic), node)
    _lay_out(p)
    return p


def subscription_id(topic: str, protocol: str, endpoint: str) -> str:
    return f"sub:{topic}:{protocol}:{endpoint}"


class _Builder(Pipeline):
    """A `Pipeline` with a way to add each kind of node once."""

    def route(self, method: str, path: str) -> str:
        return self.add(Node(f"route:{method} {path}", "route", f"{method} {path}"))

    def queue(self, name: str) -> str:
        return self.add(Node(f"queue:{name}", "queue", name, f"/console/queues/{_q(name)}"))

    def table(self, name: str) -> str:
        return self.add(Node(f"table:{name}", "table", name, f"/console/tables/{_q(name)}"))

    def stream(self, table: str) -> str:
        href = f"/console/tables/{_q(table)}"
        node = self.add(Node(f"stream:{table}", "stream", f"{table} stream", href))
        self.link(self.table(table), node)
        return node

    def topic(self, name: str) -> str:
        href = "/console/deliveries?" + urlencode({"topic": name})
        return self.add(Node(f"topic:{name}", "topic", name, href))

    def schedule(self, function: str, expression: str) -> str:
        href = "/console/deliveries?" + urlencode({"protocol": "lambda"})
        return self.add(Node(f"schedule:{function}", "schedule", expression, href))

    def function(self, name: str) -> str:
        href = f"/console/mappings#function-{_q(name)}"
        return self.add(Node(f"function:{name}", "function", name, href))

    def channel(self, kind: str) -> str:
        href = "/console/deliveries?" + urlencode({"protocol": kind})
        return self.add(Node(kind, kind, "SMS" if kind == "sms" else "MQTT", href))

    def destination(self, kind: str, name: str) -> str:
        if kind == "queue":
            return self.queue(name)
        if kind == "topic":
            return self.topic(name)
        return self.function(name)

    def function_edges(self, function: FunctionSpec) -> None:
        node = self.function(function.name)
        source = function.source
        match source:
            case QueueSource():
                self.link(self.queue(source.queue), node)
            case StreamSource():
                self.link(self.stream(source.table), node)
                if source.on_failure is not None:
                    failed = source.on_failure
                    self.link(
                        node, self.destination(failed.kind, failed.name), "on failure", failure=True
                    )
            case TopicSource():
                self.link(self.topic(source.topic), node)
            case HttpSource():
                self.link(self.route(source.method, source.served_path), node)
            case ScheduleSource():
                self.link(self.schedule(function.name, source.expression), node)
            case DirectSource():
                pass  # invoked by a pipe (drawn with the pipe)
            case _:
                assert_never(source)
        for permission in function.uses:
            actions = permission.actions
            if permission.kind == "table" and actions & _TABLE_WRITES:
                self.link(node, self.table(permission.name))
            elif permission.kind == "queue" and actions & QUEUE_SEND_ACTIONS - {
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            }:
                self.link(node, self.queue(permission.name))
            elif permission.kind == "topic" and actions & TOPIC_PUBLISH_ACTIONS:
                self.link(node, self.topic(permission.name))
            elif permission.kind == "sms":
                self.link(node, self.channel("sms"))
            elif permission.kind == "iot" and actions & IOT_PUBLISH_ACTIONS:
                self.link(node, self.channel("mqtt"))


def _lay_out(p: Pipeline) -> None:
    """Columns by longest path from the sources (a dead-letter arrow only places a node no
    other arrow feeds); rows in each column ordered by where their feeders sit, so arrows
    cross less, and dead-letter queues below the flow."""
    forward = [e for e in p.edges if not e.failure]
    for _ in range(len(p.nodes)):  # at most this many rounds, even around a cycle
        moved = False
        for edge in forward:
            a, b = p.nodes[edge.source], p.nodes[edge.target]
            if b.column <= a.column and a.column + 1 < len(p.nodes):
                b.column = a.column + 1
                moved = True
        if not moved:
            break
    fed = {e.target for e in forward}
    for edge in p.edges:
        if edge.failure and edge.target not in fed:
            a, b = p.nodes[edge.source], p.nodes[edge.target]
            b.column = max(b.column, a.column + 1)
    order = {node_id: n for n, node_id in enumerate(p.nodes)}
    columns: dict[int, list[Node]] = {}
    for node in p.nodes.values():
        columns.setdefault(node.column, []).append(node)
    placed: set[str] = set()
    for column in sorted(columns):

        def where(node: Node) -> tuple[bool, float, int]:
            rows = [
                p.nodes[e.source].row for e in p.edges if e.target == node.id and e.source in placed
            ]
            spare = node.id not in fed and any(e.target == node.id for e in p.edges)
            average = sum(rows) / len(rows) if rows else float(order[node.id])
            return (spare, average, order[node.id])

        for row, node in enumerate(sorted(columns[column], key=where)):
            node.row = row
        placed.update(n.id for n in columns[column])


@dataclass(frozen=True)
class Count:
    text: str
    alert: bool = False  # dead letters wait, deliveries failed, or a mapping retries


def counts(
    p: Pipeline,
    cx: sqlite3.Connection,
    registry: Registry,
    mappings: Iterable[QueueMapping | StreamMapping],
    now_ms: int,
    metrics: Metrics | None = None,
) -> dict[str, Count]:
    """Each node's live count: from the store, and from the runtime's counters (requests
    per route, invocations per function) when given."""
    found: dict[str, Count] = {}
    if metrics is not None:
        _counted(found, metrics)
    dead_letters = {q.spec.dead_letter for q in registry.queues.values() if q.spec.dead_letter}
    for info in registry.queues.values():
        s = queues.stats(cx, info, now_ms)
        text = f"{s.visible} visible · {s.in_flight} in flight"
        if s.delayed:
            text += f" · {s.delayed} delayed"
        found[f"queue:{info.name}"] = Count(text, info.name in dead_letters and s.total > 0)
    for table in registry.tables.values():
        found[f"table:{table.name}"] = Count(_n(tables.count(cx, table), "item"))
        if table.spec.stream:
            (records,) = cx.execute(
                "SELECT COUNT(*) FROM stream_records WHERE table_id = ?", (table.id,)
            ).fetchone()
            found[f"stream:{table.name}"] = Count(_n(records, "record"))
    paused = pausing.paused(cx)
    for mapping in mappings:
        node = mapping.name if mapping.consumer.pipe else f"function:{mapping.name}"
        text = found[node].text if node in found else _n(mapping.invocations, "invocation")
        if mapping.name in paused:
            found[node] = Count(f"paused · {text}", True)
            continue
        if isinstance(mapping, QueueMapping):
            found[node] = Count(text, mapping.last_error is not None)
            continue
        lag, retrying = stream_lag(cx, mapping)
        if lag:
            text += f" · {lag} behind"
        found[node] = Count(text, retrying)
    for topic in registry.topics.values():
        (published,) = cx.execute(
            "SELECT COUNT(*) FROM notifications WHERE topic_id = ?", (topic.id,)
        ).fetchone()
        found[f"topic:{topic.name}"] = Count(f"{published} published")
    for topic, protocol, endpoint, sent, waiting, failed in cx.execute(_BY_SUBSCRIPTION):
        count = _delivery_count(sent, waiting, failed)
        if protocol == "lambda":
            if f"function:{endpoint}" not in found:
                found[f"function:{endpoint}"] = count
            continue
        found[subscription_id(topic, protocol, endpoint)] = count
    for protocol, sent, waiting, failed in cx.execute(_DIRECT):
        found[protocol] = _delivery_count(sent, waiting, failed)
    return {node: count for node, count in found.items() if node in p.nodes}


def _counted(found: dict[str, Count], metrics: Metrics) -> None:
    # Copies first: the event loop and the workers update these as we read (a dict copy is
    # one step under the GIL).
    requests: dict[str, list[int]] = {}
    for (route, method, status), n in dict(metrics.http_requests).items():
        tally = requests.setdefault(f"route:{method} {route}", [0, 0])
        tally[0] += n
        tally[1] += n if status >= 400 else 0
    for node, (n, refused) in requests.items():
        found[node] = Count(_n(n, "request") + (f" · {refused} refused" if refused else ""))
    for function, (n, errors) in dict(metrics.invocations).items():
        text = _n(n, "invocation") + (f" · {_n(errors, 'error')}" if errors else "")
        found[f"function:{function}"] = Count(text)


def stream_lag(cx: sqlite3.Connection, mapping: StreamMapping) -> tuple[int, bool]:
    """How many stream records a mapping's lanes have yet to take, and whether one of its
    lanes is retrying a batch."""
    behind, retrying = 0, False
    rows = cx.execute(
        "SELECT lane, position, attempts FROM mappings WHERE name = ?", (mapping.name,)
    ).fetchall()
    for lane, position, attempts in rows:
        sql = "SELECT COUNT(*) FROM stream_records WHERE table_id = ? AND seq > ?"
        params: tuple[int, ...] = (mapping.table.id, position)
        if mapping.lanes > 1:
            sql += " AND key_hash % ? = ?"
            params += (mapping.lanes, lane)
        behind += int(cx.execute(sql, params).fetchone()[0])
        retrying = retrying or attempts > 0
    return behind, retrying


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _delivery_count(sent: int, waiting: int, failed: int) -> Count:
    text = f"{sent} sent"
    if waiting:
        text += f" · {waiting} waiting"
    if failed:
        text += f" · {failed} failed"
    return Count(text, failed > 0)


_TALLY = (
    "COALESCE(SUM(d.status = 'delivered'), 0), "
    "COALESCE(SUM(d.status IN ('pending', 'sending')), 0), "
    "COALESCE(SUM(d.status = 'failed'), 0)"
)
_BY_SUBSCRIPTION = (
    f"SELECT t.name, s.protocol, s.endpoint, {_TALLY} FROM deliveries d "
    "JOIN subscriptions s ON s.id = d.subscription_id JOIN topics t ON t.id = s.topic_id "
    "WHERE d.kind = 'notification' GROUP BY s.id"
)
_DIRECT = (
    f"SELECT d.protocol, {_TALLY} FROM deliveries d "
    "WHERE d.subscription_id IS NULL GROUP BY d.protocol"
)
