"""The SNS handles: a topic (`app.topic(...)`) and direct SMS (`app.sms`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from sluiceway.core.handle import Declarer, Handle
from sluiceway.core.permissions import permission
from sluiceway.core.specs import Endpoint, Permission
from sluiceway.sns.iam import TOPIC_PUBLISH_ACTIONS
from sluiceway.sns.spec import TopicSpec
from sluiceway.sqs.handle import Queue


class TopicBackend(Protocol):
    """The calls this service's handles make: the local engine implements them on SQLite,
    the Lambda shim on boto3."""

    def publish(
        self,
        topic: TopicSpec,
        message: str,
        *,
        subject: str | None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None,
        message_structure: str | None,
    ) -> dict[str, str]: ...

    def publish_sms(
        self, phone_number: str, message: str, *, sender_id: str | None, sms_type: str | None
    ) -> dict[str, str]: ...


class TopicDeclarer(Declarer, Protocol):
    """The app a topic belongs to: it records the topic's subscriptions."""

    def _subscribe(
        self,
        topic: Topic,
        protocol: str,
        endpoint: Endpoint | Queue,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
        raw_message_delivery: bool = False,
    ) -> None: ...


class Topic(Handle):
    """An SNS topic.

    >>> topic = app.topic("POC-Topic")                           # doctest: +SKIP
    >>> topic.subscribe("email", "ops@example.com")              # doctest: +SKIP
    >>> topic.subscribe("sqs", app.queue("audit"))               # doctest: +SKIP
    >>> topic.publish("New order o-1", subject="New order")      # doctest: +SKIP
    {'MessageId': '...'}
    """

    def __init__(self, app: Declarer, spec: TopicSpec) -> None:
        super().__init__(app)
        self.spec = spec

    def _backend(self) -> TopicBackend:
        backend: TopicBackend = self._app.backend
        return backend

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def publishes(self) -> Permission:
        """Permission to publish to this topic (`uses=[topic.publishes]`)."""
        return permission("topic", self.name, "publishes", TOPIC_PUBLISH_ACTIONS)

    def subscribe(
        self,
        protocol: str,
        endpoint: Endpoint | Queue,
        *,
        raw_message_delivery: bool = False,
        filter_policy: Mapping[str, Any] | str | None = None,
        filter_policy_scope: str = "MessageAttributes",
    ) -> None:
        """Declare a subscription; `endpoint` may be an `app.parameter(...)`.

        ``protocol`` is ``"email"``, ``"sms"`` (an E.164 number, ``"+919876543210"``) or
        ``"sqs"`` (a standard queue of this app, its handle: SNS fans the topic out to it;
        on AWS the queue's policy lets the topic send to it). A queue gets SNS's JSON
        envelope, or with ``raw_message_delivery=True`` the message itself, its message
        attributes as the SQS message's.
        A `filter_policy` (SNS's JSON policy) lets through only the messages it matches: on
        their message attributes (``filter_policy_scope="MessageAttributes"``, the default)
        or on their JSON body (``"MessageBody"``)."""
        declarer: TopicDeclarer = self._app
        declarer._subscribe(
            self, protocol, endpoint, filter_policy, filter_policy_scope, raw_message_delivery
        )

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


class Sms(Handle):
    """Texts straight to a phone number (SNS Publish with ``PhoneNumber``): `app.sms`.

    >>> app.sms.publish("+919876543210", "Welcome!")             # doctest: +SKIP
    {'MessageId': '...'}

    A function needs ``uses=[app.sms.sends]``; on AWS that is ``sns:Publish`` on anything
    but a topic (``NotResource: arn:aws:sns:*:*:*``): SNS knows no resource for a phone
    number, and the grant must not reach the account's topics.
    """

    name = "*"

    def _backend(self) -> TopicBackend:
        backend: TopicBackend = self._app.backend
        return backend

    @property
    def sends(self) -> Permission:
        """Permission to text any number (`uses=[app.sms.sends]`)."""
        return permission("sms", self.name, "sends", TOPIC_PUBLISH_ACTIONS)

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
