"""The orders system of seeds 000-002, declared once.

POST /orders -> SQS POC-Queue -> POC-Lambda-1 writes the `orders` table (partition key
orderID) -> the table's stream (new image) -> POC-Lambda-2 on INSERT -> SNS POC-Topic ->
an email to the operator.

What differs from the seed, on purpose:
- `orderID` is the client's ``Idempotency-Key`` header, or else the SQS message id. Both are
  stable across redelivery; the seed's ``uuid4()`` per attempt made a second order (and a
  second email) whenever a batch was retried.
- The write carries ``attribute_not_exists(orderID)``, so a redelivered message is a no-op.
- A message that cannot be processed is reported alone (``batchItemFailures``), so its batch
  mates are not retried; after 5 receives it waits in POC-DLQ for `sluiceway redrive`.
- The email names the order in its subject and lists the order's fields, instead of a raw
  DynamoDB image.
- A stream record that keeps failing is retried 10 times (its batch split to isolate it),
  then reported to POC-Notify-Failures instead of blocking every later notification.
"""

from __future__ import annotations

import json
from typing import Any

from sluiceway import App, ConditionalCheckFailed, deserialize_item

app = App("orders")

notify_email = app.parameter(
    "notify_email",
    default="ops@example.com",
    description="Where new-order notifications are emailed",
)

dead_letters = app.queue("POC-DLQ", message_retention_period=1_209_600)
# 256 KiB: an order must fit a DynamoDB item (400 KB) with room to spare; larger POSTs get 413.
queue = app.queue(
    "POC-Queue",
    visibility_timeout=30,
    maximum_message_size=262_144,
    dead_letter=dead_letters,
    max_receive_count=5,
)
# Where POC-Lambda-2 reports stream records it gave up on (a pointer, not the data).
notify_failures = app.queue("POC-Notify-Failures", message_retention_period=1_209_600)
orders = app.table("orders", partition_key="orderID", stream="NEW_IMAGE")
topic = app.topic("POC-Topic")
topic.subscribe("email", notify_email)

app.route("POST", "/orders", to=queue, forward_headers=["Idempotency-Key"])


@app.on_queue(queue, batch_size=10, uses=[orders.writes], name="POC-Lambda-1")
def store_orders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Write each order once, whatever the number of deliveries."""
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            if not isinstance(order, dict):
                raise ValueError("an order is a JSON object")
        except ValueError as error:
            print(f"message {record['messageId']} is not an order: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        key = record["messageAttributes"].get("Idempotency-Key", {}).get("stringValue")
        try:
            orders.put_item(
                {
                    "orderID": key or record["messageId"],
                    "order": record["body"],
                    "messageId": record["messageId"],
                    "receivedAt": int(record["attributes"]["SentTimestamp"]),
                },
                if_not_exists=True,
            )
        except ConditionalCheckFailed:
            print(f"order {key or record['messageId']} is already stored (a redelivery)")
        except Exception as error:
            # Only this message is retried (and dead-lettered in time); its batch mates are not.
            print(f"order {key or record['messageId']} could not be stored: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


@app.on_stream(
    orders,
    filter={"eventName": ["INSERT"]},
    bisect_batch_on_function_error=True,
    maximum_retry_attempts=10,
    on_failure=notify_failures,
    uses=[topic.publishes],
    name="POC-Lambda-2",
)
def notify(event: dict[str, Any], context: Any) -> None:
    """Email each new order to the operator."""
    for record in event["Records"]:
        item = deserialize_item(record["dynamodb"]["NewImage"])
        order = json.loads(item["order"])
        lines = [f"{name}: {_text(value)}" for name, value in order.items()]
        body = "\n".join(
            [f"New order {item['orderID']}", "", *lines, "", f"Message id: {item['messageId']}"]
        )
        topic.publish(body, subject=_subject(f"New order {item['orderID']}"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _subject(text: str) -> str:
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return printable[:99]
