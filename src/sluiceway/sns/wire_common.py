"""What SNS's wire operations share: the engine they need, the operations table, and how a
topic or subscription ARN names a resource (`wire_topics`, `wire_subscriptions` and
`wire_publish` register the operations; `wire` gathers them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from sluiceway.core import naming
from sluiceway.core.errors import NotFound
from sluiceway.core.naming import Region
from sluiceway.core.store import Store
from sluiceway.core.wire import Call, Operations, WireError
from sluiceway.sns.email import Links
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.signing import Signer

PAGE = 100  # ListTopics and ListSubscriptions answer 100 at a time


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Graph(Protocol):
    @property
    def functions(self) -> Sequence[Named]: ...


class Topics(Protocol):
    @property
    def topics(self) -> Mapping[str, TopicInfo]: ...


class AutoConfirm(Protocol):
    @property
    def auto_confirm(self) -> bool: ...


class SnsEngine(Protocol):
    """What SNS's operations need of the engine (publishing to SQS subscriptions also needs
    its signing key and links: it is an `sqs_fanout.Fanout`)."""

    store: Store
    region: Region

    @property
    def registry(self) -> Topics: ...

    @property
    def graph(self) -> Graph: ...

    @property
    def settings(self) -> AutoConfirm: ...

    @property
    def signer(self) -> Signer: ...

    @property
    def links(self) -> Links: ...

    def refresh_registry(self) -> None: ...


operations: Operations[SnsEngine] = Operations(
    "sns", denied_code="AuthorizationError", denied_status=403
)
Handler = Callable[[SnsEngine, Call, dict[str, Any]], dict[str, Any]]


def not_found(message: str) -> WireError:
    return WireError("NotFound", message, status=404)


def invalid(message: str) -> WireError:
    return WireError("InvalidParameter", f"Invalid parameter: {message}")


def topic_name(call: Call, arn: Any, what: str = "TopicArn") -> str:
    """The topic name an ARN of this account and region names (InvalidParameter if it is
    not a topic ARN)."""
    prefix = f"arn:aws:sns:{call.region.region}:{call.region.account_id}:"
    if not isinstance(arn, str) or not arn.startswith(prefix) or ":" in arn[len(prefix) :]:
        if isinstance(arn, str) and arn.startswith("arn:aws:sns:") and arn.count(":") == 5:
            raise not_found("Topic does not exist")  # another region or account
        raise invalid(what)
    return arn[len(prefix) :]


def topic_of(engine: SnsEngine, call: Call, arn: Any, what: str = "TopicArn") -> TopicInfo:
    name = topic_name(call, arn, what)
    topic = engine.registry.topics.get(name)
    if topic is None:
        raise not_found("Topic does not exist")
    return topic


def subscription_topic(call: Call, arn: Any) -> str:
    """The topic a subscription ARN is on (``<topic ARN>:<id>``)."""
    if not isinstance(arn, str) or arn.count(":") != 6:
        raise invalid("SubscriptionArn")
    return topic_name(call, arn.rsplit(":", 1)[0], "SubscriptionArn")


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register an SNS operation; the engine's NotFound answers as SNS's (``NotFound``,
    404), not as the ResourceNotFoundException other services use."""

    def register(handler: Handler) -> Handler:
        def run(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
            try:
                return handler(engine, call, params)
            except NotFound as error:
                raise not_found(str(error)) from None

        operations(name)(run)
        return handler

    return register


def page(items: Sequence[Any], token: Any) -> tuple[list[Any], str | None]:
    """One page of a listing and the NextToken of the next (an offset)."""
    start = 0
    if token is not None:
        if not isinstance(token, str) or not token.isdigit():
            raise invalid("NextToken")
        start = int(token)
    chunk = list(items[start : start + PAGE])
    more = start + PAGE < len(items)
    return chunk, str(start + PAGE) if more else None


def tags_of(entries: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {entry["Key"]: entry["Value"] for entry in entries}


def function_arn(region: Region, name: str) -> str:
    return naming.function_arn(region, name)
