"""The device relay of seed 004: messages posted over HTTPS, relayed to devices over MQTT.

``POST /messages`` passes the firewall (a per-IP rate limit and AWS's common, known-bad-input
and SQL injection rule groups), then needs an OAuth2 access token with the scope
``devices/send`` (client credentials); its body goes to the ``DeviceMessages`` queue. The
function ``Device-Router`` reads batches, looks up each message's ``ClientID`` in the
``clients`` table to find that client's topic, and publishes the message there over MQTT.

    sluiceway run iot-router                # prints the embedded MQTT broker's port
    sluiceway clients create shop --scope devices/send --json
    sluiceway put-item clients '{"ClientID": "DemoClient", "Topic": "MyTopic"}'
    mosquitto_sub -h 127.0.0.1 -p PORT -t MyTopic &
    TOKEN=$(sluiceway token --client-id ID --client-secret SECRET | jq -r .access_token)
    curl -X POST localhost:8080/messages -H "Authorization: $TOKEN" \\
         -H 'content-type: application/json' -d '{"ClientID": "DemoClient", "QRCode": "..."}'

Where the seed leaves room:

- A topic comes from data (the ``clients`` table), so it passes an allowlist before anything
  is sent: the seed's ``MyTopic`` and anything under ``devices/``. Add your topics to
  `DEVICE_TOPICS`; on AWS the same list is the function's ``iot:Publish`` policy.
- A message whose ``ClientID`` is missing or unknown, or whose topic is not allowed, is
  reported alone (``batchItemFailures``) with its reason in the log; after 3 receives it
  waits in ``DeviceMessages-DLQ`` (kept 14 days) for ``sluiceway redrive`` once the client
  is registered.
- Messages go out at QoS 1 and in the order they were queued. While the broker is down they
  wait in the runtime's durable outbox and leave, in order, when it is back.
- The rate limit is per client address: 100 requests a minute (WAF's shortest window).
"""

from __future__ import annotations

import json
from typing import Any

from sluiceway import App, ValidationError
from sluiceway.firewall import Rule, managed, rate_limit

app = App("iot-router")

DEVICE_TOPICS = ["MyTopic", "devices/#"]

devices = app.user_pool("devices", domain="sibesg")
# `devices/read` is for tools that only look (no route accepts it for sending).
devices.resource_server(
    "devices",
    scopes={"send": "Send messages to devices", "read": "Read-only access; cannot send"},
)

app.firewall(
    [
        Rule("per-ip-rate", priority=0, action="block", statement=rate_limit(100, window=60)),
        Rule(
            "common", priority=10, action="block", statement=managed("AWSManagedRulesCommonRuleSet")
        ),
        Rule(
            "known-bad-inputs",
            priority=20,
            action="block",
            statement=managed("AWSManagedRulesKnownBadInputsRuleSet"),
        ),
        Rule(
            "sql-injection",
            priority=30,
            action="block",
            statement=managed("AWSManagedRulesSQLiRuleSet"),
        ),
    ],
    default="allow",
)

dead_letters = app.queue("DeviceMessages-DLQ", message_retention_period=1_209_600)
messages = app.queue(
    "DeviceMessages", visibility_timeout=30, dead_letter=dead_letters, max_receive_count=3
)
clients = app.table("clients", partition_key="ClientID")
iot = app.iot(topics=DEVICE_TOPICS)

app.route("POST", "/messages", to=messages, auth=devices.requires("devices/send"))


@app.on_queue(messages, batch_size=10, uses=[clients.reads, iot.publishes], name="Device-Router")
def route_messages(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Publish each message to its client's topic; report the ones that cannot be routed."""
    failures = []
    for record in event["Records"]:
        try:
            topic = _topic_of(record["body"])
            iot.publish(topic, record["body"], qos=1)
        except (LookupError, ValueError, ValidationError) as error:
            print(f"message {record['messageId']} not routed: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _topic_of(body: str) -> str:
    message = json.loads(body)
    client_id = message.get("ClientID") if isinstance(message, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("the message has no ClientID")
    client = clients.get_item({"ClientID": client_id})
    if client is None:
        raise LookupError(f"ClientID {client_id!r} is not in the clients table")
    topic = client.get("Topic")
    if not isinstance(topic, str):
        raise LookupError(f"client {client_id!r} has no Topic")
    return topic
