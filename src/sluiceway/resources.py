"""Resource handles: what a declaration returns and what a handler calls.

A handle is both the declaration (it holds the frozen spec) and the client a handler uses at
run time. Calls go to the backend the app is bound to: the local engine, or boto3 in Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sluiceway import permissions, validation
from sluiceway.backend import Backend, SortKeyCondition
from sluiceway.core.errors import DeclarationError
from sluiceway.iot import rules as iot
from sluiceway.specs import (
    AuthSpec,
    Endpoint,
    IotSpec,
    Permission,
    QueueSpec,
    ResourceServerSpec,
    TableSpec,
    TopicSpec,
    UserPoolSpec,
)

if TYPE_CHECKING:
    from sluiceway.app import App


class _Handle:
    def __init__(self, app: App) -> None:
        self._app = app

    @property
    def app(self) -> App:
        return self._app

    def _backend(self) -> Backend:
        return self._app.backend


class Queue(_Handle):
    """An SQS queue.

    >>> queue = app.queue("POC-Queue", visibility_timeout=30)          # doctest: +SKIP
    >>> queue.send_message('{"item": "latex gloves"}')                 # doctest: +SKIP
    {'MessageId': '...', 'MD5OfMessageBody': '...'}
    """

    def __init__(self, app: App, spec: QueueSpec) -> None:
        super().__init__(app)
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sends(self) -> Permission:
        """Permission to send messages to this queue (`uses=[queue.sends]`)."""
        return permissions.permission("queue", self.name, "sends")

    @property
    def consumes(self) -> Permission:
        """Permission to receive, delete and change the visibility of this queue's messages."""
        return permissions.permission("queue", self.name, "consumes")

    def send_message(
        self,
        body: str,
        *,
        delay_seconds: int | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_group_id: str | None = None,
        message_deduplication_id: str | None = None,
    ) -> dict[str, str]:
        """Send one message; returns ``{"MessageId", "MD5OfMessageBody", ...}`` like SQS.
        FIFO queues need `message_group_id` (and a deduplication id unless the queue
        deduplicates by content)."""
        return self._backend().send_message(
            self.spec,
            body,
            delay_seconds=delay_seconds,
            message_attributes=message_attributes,
            message_group_id=message_group_id,
            message_deduplication_id=message_deduplication_id,
        )

    def change_message_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        """Extend or end the invisibility of a message you received (its record's
        ``receiptHandle``); 0 makes it visible again at once."""
        self._backend().change_message_visibility(self.spec, receipt_handle, visibility_timeout)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"


class Table(_Handle):
    """A DynamoDB table.

    >>> orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")  # doctest: +SKIP
    >>> orders.put_item({"orderID": "o-1", "item": "gloves"}, if_not_exists=True)  # doctest: +SKIP
    >>> orders.get_item({"orderID": "o-1"})                                        # doctest: +SKIP
    {'orderID': 'o-1', 'item': 'gloves'}
    """

    def __init__(self, app: App, spec: TableSpec) -> None:
        super().__init__(app)
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def reads(self) -> Permission:
        """Permission to get, query and scan (`uses=[table.reads]`)."""
        return permissions.permission("table", self.name, "reads")

    @property
    def writes(self) -> Permission:
        """Permission to put, update and delete items (`uses=[table.writes]`)."""
        return permissions.permission("table", self.name, "writes")

    def put_item(self, item: Mapping[str, Any], *, if_not_exists: bool = False) -> None:
        """Write an item. With ``if_not_exists=True`` the write carries the condition
        ``attribute_not_exists(<partition key>)`` and raises `ConditionalCheckFailed` when an
        item with that key exists: the idempotent write a redelivered message needs."""
        self._backend().put_item(self.spec, item, if_not_exists=if_not_exists)

    def get_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._backend().get_item(self.spec, key)

    def delete_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """Delete an item; returns the deleted item (``ReturnValues=ALL_OLD``) or None."""
        return self._backend().delete_item(self.spec, key)

    def query(
        self,
        partition_value: Any,
        *,
        sort_key: SortKeyCondition | None = None,
        limit: int | None = None,
        scan_forward: bool = True,
    ) -> list[dict[str, Any]]:
        """Items with this partition key, in sort-key order (`SortKey.begins_with(...)`...)."""
        return self._backend().query(
            self.spec, partition_value, sort_key=sort_key, limit=limit, scan_forward=scan_forward
        )

    def scan(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        return self._backend().scan(self.spec, limit=limit)

    def __repr__(self) -> str:
        return f"Table({self.name!r})"


class Topic(_Handle):
    """An SNS topic.

    >>> topic = app.topic("POC-Topic")                           # doctest: +SKIP
    >>> topic.subscribe("email", "ops@example.com")              # doctest: +SKIP
    >>> topic.publish("New order o-1", subject="New order")      # doctest: +SKIP
    {'MessageId': '...'}
    """

    def __init__(self, app: App, spec: TopicSpec) -> None:
        super().__init__(app)
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def publishes(self) -> Permission:
        """Permission to publish to this topic (`uses=[topic.publishes]`)."""
        return permissions.permission("topic", self.name, "publishes")

    def subscribe(
        self,
        protocol: str,
        endpoint: Endpoint,
        *,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
    ) -> None:
        """Declare a subscription; `endpoint` may be an `app.parameter(...)`.

        ``protocol`` is ``"email"`` or ``"sms"`` (an E.164 number, ``"+919876543210"``).
        A `filter_policy` (SNS's JSON policy) lets through only the messages it matches: on
        their message attributes (``filter_policy_scope="MessageAttributes"``, the default)
        or on their JSON body (``"MessageBody"``)."""
        self._app._subscribe(self, protocol, endpoint, filter_policy, filter_policy_scope)

    def publish(
        self,
        message: Any,
        *,
        subject: str | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_structure: str | None = None,
    ) -> dict[str, str]:
        """Publish a message (a string, or any JSON value, which is sent as its JSON text)."""
        text = message if isinstance(message, str) else json.dumps(message, default=str)
        return self._backend().publish(
            self.spec,
            text,
            subject=subject,
            message_attributes=message_attributes,
            message_structure=message_structure,
        )

    def __repr__(self) -> str:
        return f"Topic({self.name!r})"


class Sms(_Handle):
    """Texts straight to a phone number (SNS Publish with ``PhoneNumber``): `app.sms`.

    >>> app.sms.publish("+919876543210", "Welcome!")             # doctest: +SKIP
    {'MessageId': '...'}

    A function needs ``uses=[app.sms.sends]``; on AWS that is ``sns:Publish`` on ``*``, the
    only resource SNS knows for phone numbers.
    """

    name = "*"

    @property
    def sends(self) -> Permission:
        """Permission to text any number (`uses=[app.sms.sends]`)."""
        return permissions.permission("sms", self.name, "sends")

    def publish(
        self,
        phone_number: str,
        message: str,
        *,
        sender_id: str | None = None,
        sms_type: str | None = None,
    ) -> dict[str, str]:
        """Text `message` (at most 1,600 characters) to `phone_number` (E.164,
        ``"+919876543210"``). `sms_type` is ``"Transactional"`` (the default) or
        ``"Promotional"``; `sender_id` is the 1-11 character name shown where supported."""
        return self._backend().publish_sms(
            phone_number, message, sender_id=sender_id, sms_type=sms_type
        )

    def __repr__(self) -> str:
        return "Sms()"


class Iot(_Handle):
    """MQTT publishing through AWS IoT Core (``iot-data`` Publish): what ``app.iot()``
    returns.

    >>> iot = app.iot(topics=["devices/+/inbox"])                        # doctest: +SKIP
    >>> iot.publish("devices/DemoClient/inbox", b'{"QRCode": "..."}', qos=1)  # doctest: +SKIP

    A function needs ``uses=[iot.publishes]``. A topic must be a valid publish topic (no
    wildcards, no leading ``$``, at most 256 bytes and 7 slashes) and match one of the
    declared `topics`, so a topic looked up from data cannot reach a device it should not.
    """

    name = "*"

    def __init__(self, app: App, spec: IotSpec) -> None:
        super().__init__(app)
        self.spec = spec
        self.allowlist = iot.TopicAllowlist(spec.topics)

    @property
    def publishes(self) -> Permission:
        """Permission to publish to the declared topics (`uses=[iot.publishes]`)."""
        return permissions.permission("iot", self.name, "publishes")

    def publish(
        self, topic: str, payload: bytes | str | Mapping[str, Any] | list[Any], qos: int = 0
    ) -> None:
        """Publish `payload` to `topic` at `qos` 0 or 1. A str is sent as UTF-8, a dict or
        list as JSON. Locally the message waits in a durable outbox until the broker has it,
        in publish order."""
        topic = self.allowlist.check(topic)
        iot.check_qos(qos)
        if isinstance(payload, str):
            data = payload.encode("utf-8")
        elif isinstance(payload, bytes | bytearray | memoryview):
            data = bytes(payload)
        else:
            data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self._backend().publish_iot(topic, iot.check_payload(data, topic=topic), qos)

    def __repr__(self) -> str:
        return f"Iot(topics={list(self.spec.topics)!r})"


class UserPool(_Handle):
    """A Cognito user pool for OAuth2 client credentials: app clients (created with
    ``sluiceway clients create``) get access tokens for its resource servers' scopes, and a
    route requires one with ``auth=pool.requires("devices/send")``.

    >>> pool = app.user_pool("devices", domain="sibesg")                     # doctest: +SKIP
    >>> pool.resource_server("devices", scopes={"send": "post messages"})   # doctest: +SKIP
    """

    def __init__(self, app: App, name: str, domain: str | None, token_validity: int) -> None:
        super().__init__(app)
        self.name = name
        self.domain = domain
        self.token_validity = token_validity
        self._servers: dict[str, ResourceServerSpec] = {}

    @property
    def spec(self) -> UserPoolSpec:
        return UserPoolSpec(
            self.name, self.domain, tuple(self._servers.values()), self.token_validity
        )

    @property
    def scopes(self) -> frozenset[str]:
        """Every full scope (``identifier/name``) the pool's resource servers define."""
        return frozenset(
            f"{server.identifier}/{scope}"
            for server in self._servers.values()
            for scope, _ in server.scopes
        )

    def resource_server(
        self, identifier: str, *, scopes: Mapping[str, str], name: str | None = None
    ) -> None:
        """Declare a resource server: `scopes` maps a scope name to its description."""
        self._servers[identifier] = validation.resource_server(
            f"user pool '{self.name}'", identifier, scopes, name, self._servers
        )

    def requires(self, *scopes: str) -> AuthSpec:
        """What a route or function asks of a request: an access token of this pool with
        one of `scopes` (as API Gateway's authorization scopes: any one suffices)."""
        where = f"user pool '{self.name}'"
        if not scopes:
            raise DeclarationError(
                where, "requires() needs a scope", "e.g. pool.requires('devices/send')"
            )
        unknown = sorted(set(scopes) - self.scopes)
        if unknown:
            raise DeclarationError(
                where,
                f"scope {', '.join(unknown)} is not defined by its resource servers",
                "declare it with pool.resource_server(identifier, scopes={...}) first",
            )
        return AuthSpec(self.name, tuple(scopes))

    def __repr__(self) -> str:
        return f"UserPool({self.name!r})"
