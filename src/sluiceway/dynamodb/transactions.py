"""TransactWriteItems and TransactGetItems: up to 100 actions on distinct items, all or
nothing in one SQLite transaction.

Every condition is evaluated against the items as they are before any action runs; if one
fails, the transaction is cancelled with one reason per action (``None`` for those that
would have succeeded) and nothing is stored. A ClientRequestToken makes a repeated request
within 10 minutes answer as the first did without writing again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from sluiceway.core.errors import ConditionalCheckFailed, ValidationError
from sluiceway.core.store import Tx
from sluiceway.dynamodb import changes, items
from sluiceway.dynamodb.errors import (
    CONDITION_FAILED,
    ConditionFailed,
    IdempotentParameterMismatch,
    TransactionCanceled,
)
from sluiceway.dynamodb.requests import Answer, Prepared, Tables

MAX_ACTIONS = 100
TOKEN_MS = 10 * 60 * 1000
_ACTIONS = {
    "Put": ("dynamodb:PutItem", items.plan_put),
    "Update": ("dynamodb:UpdateItem", items.plan_update),
    "Delete": ("dynamodb:DeleteItem", items.plan_delete),
    "ConditionCheck": ("dynamodb:ConditionCheckItem", items.plan_check),
}
_SAME_ITEM = "Transaction request cannot include multiple operations on one item"


def _actions(request: Mapping[str, Any]) -> list[Any]:
    actions = request.get("TransactItems")
    if not isinstance(actions, list) or not actions:
        raise ValidationError(
            "1 validation error detected: Value null at 'transactItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    if len(actions) > MAX_ACTIONS:
        raise ValidationError(
            f"1 validation error detected: Value '[...]' at 'transactItems' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_ACTIONS}"
        )
    return actions


def _one(action: Any, kinds: tuple[str, ...]) -> tuple[str, Mapping[str, Any]]:
    given = [k for k in kinds if isinstance(action, Mapping) and action.get(k) is not None]
    if len(given) != 1:
        raise ValidationError(
            "TransactItems can only contain one of Check, Put, Update or Delete"
            if len(kinds) > 1
            else "TransactItems must hold a Get"
        )
    return given[0], action[given[0]]


def transact_write_items(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    plans: list[items.ItemWrite] = []
    access = []
    seen: set[tuple[int, bytes, bytes]] = set()
    for action in _actions(request):
        kind, params = _one(action, tuple(_ACTIONS))
        permission, plan_of = _ACTIONS[kind]
        plan = plan_of(tables, params)
        if (plan.table.id, *plan.key) in seen:
            raise ValidationError(_SAME_ITEM)
        seen.add((plan.table.id, *plan.key))
        plans.append(plan)
        access.append((plan.table, permission))
    token = request.get("ClientRequestToken")
    digest = hashlib.sha256(
        json.dumps(request.get("TransactItems"), sort_keys=True).encode()
    ).hexdigest()

    def write(tx: Tx) -> Answer:
        if token is not None and _seen_token(tx, token, digest):
            return {}
        olds = [changes.load(tx, plan.table, plan.key) for plan in plans]
        news: list[Any] = []
        reasons: list[dict[str, Any]] = []
        failed = False
        for plan, old in zip(plans, olds, strict=True):
            try:
                news.append(plan.evaluate(old))
                reasons.append({"Code": "None"})
            except ConditionalCheckFailed as error:
                failed = True
                news.append(None)
                reason: dict[str, Any] = {
                    "Code": "ConditionalCheckFailed",
                    "Message": CONDITION_FAILED,
                }
                if isinstance(error, ConditionFailed) and error.item is not None:
                    reason["Item"] = error.item
                reasons.append(reason)
            except ValidationError as error:
                failed = True
                news.append(None)
                reasons.append({"Code": "ValidationError", "Message": str(error)})
        if failed:
            raise TransactionCanceled(reasons)
        for plan, old, new in zip(plans, olds, news, strict=True):
            if plan.kind != "ConditionCheck":
                changes.write(tx, plan.table, plan.key, old, new, trace_id=trace_id)
        if token is not None:
            tx.execute(
                "INSERT OR REPLACE INTO transaction_tokens (token, digest, expires_at) "
                "VALUES (?, ?, ?)",
                (token, digest, tx.now_ms + TOKEN_MS),
            )
        return {}

    return Prepared(tuple(access), write=write)


def _seen_token(tx: Tx, token: str, digest: str) -> bool:
    tx.execute("DELETE FROM transaction_tokens WHERE expires_at <= ?", (tx.now_ms,))
    row = tx.execute("SELECT digest FROM transaction_tokens WHERE token = ?", (token,)).fetchone()
    if row is None:
        return False
    if row[0] != digest:
        raise IdempotentParameterMismatch(
            "The request uses the same client token as a previous, but non-identical request. "
            "Do not reuse a client token with different requests, unless the requests are "
            "identical."
        )
    return True


def transact_get_items(
    tables: Tables, request: Mapping[str, Any], trace_id: str | None = None
) -> Prepared:
    reads: list[items.ItemRead] = []
    seen: set[tuple[int, bytes, bytes]] = set()
    for action in _actions(request):
        _, params = _one(action, ("Get",))
        plan = items.plan_get(tables, params)
        if (plan.table.id, *plan.key) in seen:
            raise ValidationError(_SAME_ITEM)
        seen.add((plan.table.id, *plan.key))
        reads.append(plan)

    def read(cx: sqlite3.Connection) -> Answer:
        # One snapshot for every read, as TransactGetItems is isolated from writes.
        own = not cx.in_transaction
        if own:
            cx.execute("BEGIN")
        try:
            found = [plan.read(cx) for plan in reads]
        finally:
            if own:
                cx.execute("COMMIT")
        return {"Responses": [{} if item is None else {"Item": item} for item in found]}

    return Prepared(tuple((plan.table, "dynamodb:GetItem") for plan in reads), read=read)
