"""The runtime's own pages under ``/_sluiceway/``: health, the SNS signing certificate, the
web ACL's counters, and the links of SNS's confirmation and unsubscribe emails."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from sluiceway.apigateway.asgi import Scope, Send, answer_json, answer_page, respond
from sluiceway.core.errors import NotFound
from sluiceway.sns import subscriptions
from sluiceway.sns.signing import CERT_PATH
from sluiceway.wafv2.evaluator import Firewall

if TYPE_CHECKING:
    from sluiceway.local.engine import LocalEngine


async def serve(engine: LocalEngine, firewall: Firewall | None, scope: Scope, send: Send) -> None:
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
    if path == CERT_PATH and scope["method"] == "GET":
        pem = engine.signer.certificate()
        await respond(send, 200, pem, b"application/x-pem-file", None)
    elif path == "/_sluiceway/health" and scope["method"] == "GET":
        await answer_json(send, 200, {"status": "ok", "app": engine.app.name})
    elif path == "/_sluiceway/firewall" and scope["method"] == "GET":
        if firewall is None:
            await answer_json(
                send, 404, {"message": "the app declares no firewall", "code": "NotFound"}
            )
            return
        await answer_json(
            send,
            200,
            {
                "default": firewall.acl.default_action,
                "rules": firewall.counters(),
                "tracked_keys": firewall.tracked_keys(),
            },
        )
    elif path == "/_sluiceway/sns/confirm" and scope["method"] == "GET":
        token = query.get("Token", "")
        try:
            arn = await engine.store.awrite(lambda tx: subscriptions.confirm(tx, token))
        except NotFound:
            await answer_page(
                send, 404, "Not found", "No subscription waits for this confirmation link."
            )
            return
        await answer_page(
            send,
            200,
            "Subscription confirmed!",
            f"You have successfully subscribed.\nYour subscription's id is:\n{arn}",
        )
    elif path == "/_sluiceway/sns/unsubscribe" and scope["method"] == "GET":
        arn, token = query.get("SubscriptionArn", ""), query.get("Token", "")
        try:
            await engine.store.awrite(lambda tx: subscriptions.unsubscribe(tx, arn, token))
        except NotFound:
            await answer_page(send, 404, "Not found", "No such subscription.")
            return
        await answer_page(
            send,
            200,
            "Subscription removed!",
            f"Your subscription to the topic below has been deactivated:\n{arn}",
        )
    else:
        await answer_json(
            send, 404, {"message": f"no route for {scope['method']} {path}", "code": "NotFound"}
        )
