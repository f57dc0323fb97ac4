"""Subscriptions' lifecycle: ConfirmSubscription and Unsubscribe by their token (the links in
an email), and SNS's API: Subscribe, Unsubscribe by ARN, the subscription attributes."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluiceway.core import ids
from sluiceway.core.errors import NotFound, ValidationError
from sluiceway.core.store import Tx
from sluiceway.patterns import Context, PatternError, compile_pattern
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.spec import FILTER_POLICY_SCOPES


def confirm(tx: Tx, token: str) -> str:
    """ConfirmSubscription by token; returns the subscription ARN."""
    row = tx.execute(
        "SELECT id, arn, status FROM subscriptions WHERE token = ?", (token,)
    ).fetchone()
    if row is None or row[2] == "deleted":
        raise NotFound("no subscription waits for this confirmation token")
    if row[2] == "pending":
        tx.execute(
            "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
            (tx.now_ms, row[0]),
        )
    return str(row[1])


def unsubscribe(tx: Tx, arn: str, token: str) -> None:
    row = tx.execute(
        "SELECT id FROM subscriptions WHERE arn = ? AND token = ? AND status != 'deleted'",
        (arn, token),
    ).fetchone()
    if row is None:
        raise NotFound("no such subscription")
    tx.execute("UPDATE subscriptions SET status = 'unsubscribed' WHERE id = ?", (row[0],))
    tx.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = 'unsubscribed' "
        "WHERE subscription_id = ? AND status = 'pending'",
        (row[0],),
    )


# -- SNS's API: Subscribe, Unsubscribe, subscription attributes ---------------------------

# The attributes a caller may set on a subscription; FilterPolicy and FilterPolicyScope are
# kept in their own columns (publishing reads them), the rest as given.
SETTABLE = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
        "ReplayPolicy",
    }
)
RAW_PROTOCOLS = frozenset({"sqs", "http", "https", "firehose"})


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    topic: str
    protocol: str
    endpoint: str
    arn: str
    status: str
    filter_policy: str | None
    filter_scope: str | None
    attributes: dict[str, str]

    def settings(self) -> dict[str, str]:
        """The attributes as set: FilterPolicy and FilterPolicyScope among them."""
        shown = dict(self.attributes)
        if self.filter_policy is not None:
            shown["FilterPolicy"] = self.filter_policy
            shown["FilterPolicyScope"] = self.filter_scope or "MessageAttributes"
        return shown


_ROW = (
    "SELECT s.id, t.name, s.protocol, s.endpoint, s.arn, s.status, s.filter_policy, "
    "s.filter_scope, s.attributes FROM subscriptions s JOIN topics t ON t.id = s.topic_id"
)


def _row(found: tuple[Any, ...]) -> SubscriptionRow:
    sid, topic, protocol, endpoint, arn, status, policy, scope, attributes = found
    return SubscriptionRow(
        sid, topic, protocol, endpoint, arn, status, policy, scope, json.loads(attributes or "{}")
    )


def by_arn(cx: sqlite3.Connection, arn: str) -> SubscriptionRow:
    found = cx.execute(
        f"{_ROW} WHERE s.arn = ? AND s.status IN ('pending', 'confirmed')", (arn,)
    ).fetchone()
    if found is None:
        raise NotFound("Subscription does not exist")
    return _row(found)


def listed(cx: sqlite3.Connection, topic_id: int | None = None) -> list[SubscriptionRow]:
    """The live subscriptions (of one topic), in the order they were made."""
    where = " WHERE s.status IN ('pending', 'confirmed')"
    if topic_id is None:
        return [_row(r) for r in cx.execute(f"{_ROW}{where} ORDER BY s.id")]
    return [
        _row(r) for r in cx.execute(f"{_ROW}{where} AND s.topic_id = ? ORDER BY s.id", (topic_id,))
    ]


def check_attribute(protocol: str, name: str, value: str) -> str:
    """One subscription attribute, checked as SNS checks it; returns the value to keep
    (a filter policy in its canonical form)."""
    if name not in SETTABLE:
        raise _invalid(f"AttributeName Reason: Unknown attribute {name}")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise _invalid("RawMessageDelivery Reason: must be true or false")
        if protocol not in RAW_PROTOCOLS:
            raise _invalid(
                f"Attributes Reason: Delivery protocol [{protocol}] does not support raw "
                "message delivery."
            )
        return value.lower()
    if name == "FilterPolicyScope" and value not in FILTER_POLICY_SCOPES:
        raise _invalid(
            "Attributes Reason: FilterPolicyScope: must be MessageAttributes or MessageBody"
        )
    if name in ("DeliveryPolicy", "RedrivePolicy", "ReplayPolicy") and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _invalid(f"{name} Reason: not a JSON object")
    return value


def check_filter_policy(policy: str, scope: str) -> str:
    """A filter policy in the pattern language's canonical form, or SNS's error."""
    context: Context = "sns-body" if scope == "MessageBody" else "sns-attributes"
    try:
        return compile_pattern(policy, context=context).source
    except PatternError as error:
        raise _invalid(f"Filter policy: {error}") from None


def _invalid(message: str) -> ValidationError:
    return ValidationError(f"Invalid parameter: {message}", code="InvalidParameter")


def _split(protocol: str, attributes: Mapping[str, str]) -> tuple[str | None, str, dict[str, str]]:
    """Attributes as stored: the filter policy, its scope, and the rest."""
    kept = {name: check_attribute(protocol, name, v) for name, v in attributes.items()}
    scope = kept.pop("FilterPolicyScope", "MessageAttributes")
    policy = kept.pop("FilterPolicy", None)
    if policy == "":
        policy = None
    if policy is not None:
        policy = check_filter_policy(policy, scope)
    return policy, scope, kept


@dataclass(frozen=True)
class Subscribed:
    arn: str
    pending: bool


def subscribe(
    tx: Tx,
    topic: TopicInfo,
    protocol: str,
    endpoint: str,
    attributes: Mapping[str, str],
    *,
    confirm_now: bool,
) -> Subscribed:
    """Subscribe: a new subscription (``confirm_now``, or waiting for its owner's
    confirmation, which is queued as a delivery), or the same one again when it exists with
    these attributes (SNS's Subscribe is idempotent)."""
    policy, scope, rest = _split(protocol, attributes)
    found = tx.execute(
        "SELECT id, arn, status, filter_policy, filter_scope, attributes FROM subscriptions "
        "WHERE topic_id = ? AND protocol = ? AND endpoint = ?",
        (topic.id, protocol, endpoint),
    ).fetchone()
    if found is not None and found[2] in ("pending", "confirmed"):
        same = (found[3], found[4] if found[3] else None, json.loads(found[5] or "{}")) == (
            policy,
            scope if policy else None,
            rest,
        )
        if attributes and not same:
            raise _invalid(
                "Attributes Reason: Subscription already exists with different attributes"
            )
        return Subscribed(str(found[1]), found[2] == "pending")
    arn = f"{topic.arn}:{ids.uuid4()}"
    token = secrets.token_hex(32)
    status = "confirmed" if confirm_now else "pending"
    values = (
        arn,
        status,
        token,
        tx.now_ms,
        tx.now_ms if confirm_now else None,
        policy,
        scope if policy else None,
        json.dumps(rest) if rest else None,
    )
    if found is None:
        sid = tx.execute(
            "INSERT INTO subscriptions (topic_id, protocol, endpoint, arn, status, token, "
            "created_at, confirmed_at, filter_policy, filter_scope, attributes, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'api')",
            (topic.id, protocol, endpoint, *values),
        ).lastrowid
    else:  # unsubscribed or removed before: the same row, a new subscription
        sid = found[0]
        tx.execute(
            "UPDATE subscriptions SET arn = ?, status = ?, token = ?, created_at = ?, "
            "confirmed_at = ?, filter_policy = ?, filter_scope = ?, attributes = ?, "
            "origin = 'api' WHERE id = ?",
            (*values, sid),
        )
    if not confirm_now:
        tx.execute(
            "INSERT INTO deliveries (subscription_id, kind, protocol, endpoint, status, "
            "next_attempt_at, created_at) VALUES (?, 'confirmation', ?, ?, 'pending', ?, ?)",
            (sid, protocol, endpoint, tx.now_ms, tx.now_ms),
        )
        tx.touch("deliveries")
    return Subscribed(arn, not confirm_now)


def remove(tx: Tx, arn: str) -> None:
    """Unsubscribe by ARN (SNS's API: the caller is the owner, no token needed)."""
    row = by_arn(tx.cx, arn)
    tx.execute("UPDATE subscriptions SET status = 'unsubscribed' WHERE id = ?", (row.id,))
    tx.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = 'unsubscribed' "
        "WHERE subscription_id = ? AND status = 'pending'",
        (row.id,),
    )


def set_attribute(tx: Tx, arn: str, name: str, value: str) -> None:
    row = by_arn(tx.cx, arn)
    kept = check_attribute(row.protocol, name, value)
    policy, scope, rest = row.filter_policy, row.filter_scope, dict(row.attributes)
    if name == "FilterPolicy":
        policy = check_filter_policy(kept, scope or "MessageAttributes") if kept else None
        scope = (scope or "MessageAttributes") if policy else None
    elif name == "FilterPolicyScope":
        if policy is not None:
            check_filter_policy(policy, kept)
        scope = kept
    elif kept == "":
        rest.pop(name, None)
    else:
        rest[name] = kept
    tx.execute(
        "UPDATE subscriptions SET filter_policy = ?, filter_scope = ?, attributes = ? WHERE id = ?",
        (policy, scope, json.dumps(rest) if rest else None, row.id),
    )


def token_of(tx: Tx, token: str) -> str | None:
    """The ARN of the topic a confirmation token's subscription is on, if any."""
    found = tx.execute(
        "SELECT t.name FROM subscriptions s JOIN topics t ON t.id = s.topic_id WHERE s.token = ?",
        (token,),
    ).fetchone()
    return None if found is None else str(found[0])
