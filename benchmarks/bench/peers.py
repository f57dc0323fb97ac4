"""The peers, measured in the same run: moto in server mode and RabbitMQ.

* ``moto``: what Python users reach for to emulate AWS locally. A driver does what API
  Gateway and the two Lambdas would do for N orders: SendMessage each order; ReceiveMessage
  (10 at a time), PutItem each (``attribute_not_exists(orderID)``), DeleteMessageBatch;
  read the table's stream (GetShardIterator, GetRecords) and Publish each INSERT to the SNS
  topic (which has an email subscription; moto delivers no email, so its path does less
  than sluiceway's). Four client threads per phase, so moto is never idle waiting for one.
* ``rabbit``: a durable queue, persistent messages, publisher confirms. A publisher sends
  batches of B and waits until the broker confirms the whole batch; a consumer (prefetch
  B) acknowledges every B deliveries at once. Both on one connection, concurrently: the
  same shape as the engine's queue figure.

    python -m bench.peers moto --endpoint http://127.0.0.1:5000 --orders 500
    python -m bench.peers rabbit --messages 20000 --batch 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import PYTHON, SEED_ORDER, VENV_BIN, free_port, port_open, stop, wait_port

BODY = SEED_ORDER.decode()
THREADS = 4


# -- moto --------------------------------------------------------------------------------


def moto_path(endpoint: str, orders: int) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2}, max_pool_connections=THREADS * 2)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    sqs = session.client("sqs", endpoint_url=endpoint, config=config)
    ddb = session.client("dynamodb", endpoint_url=endpoint, config=config)
    streams = session.client("dynamodbstreams", endpoint_url=endpoint, config=config)
    sns = session.client("sns", endpoint_url=endpoint, config=config)

    suffix = uuid.uuid4().hex[:8]
    queue_url = sqs.create_queue(QueueName=f"POC-Queue-{suffix}")["QueueUrl"]
    table = f"orders-{suffix}"
    created = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    topic_arn = sns.create_topic(Name=f"POC-Topic-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="ops@example.com")

    timings: dict[str, float] = {}
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        # API Gateway: one SendMessage per POST.
        list(
            pool.map(
                lambda _: sqs.send_message(QueueUrl=queue_url, MessageBody=BODY), range(orders)
            )
        )
        timings["send_s"] = time.perf_counter() - started

        # POC-Lambda-1: receive 10, write each order once, delete the batch.
        stored = redelivered = 0
        lock = threading.Lock()

        def lambda1() -> None:
            nonlocal stored, redelivered
            while True:
                with lock:
                    if stored >= orders:
                        return
                got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
                messages = got.get("Messages", [])
                for message in messages:
                    try:
                        ddb.put_item(
                            TableName=table,
                            Item={
                                "orderID": {"S": message["MessageId"]},
                                "order": {"S": message["Body"]},
                                "messageId": {"S": message["MessageId"]},
                            },
                            ConditionExpression="attribute_not_exists(orderID)",
                        )
                    except ddb.exceptions.ConditionalCheckFailedException:
                        # A redelivery (moto handed the message to two receivers): stored
                        # already, as the blueprint's POC-Lambda-1 treats it.
                        with lock:
                            redelivered += 1
                        continue
                    with lock:
                        stored += 1
                if messages:
                    sqs.delete_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(messages)
                        ],
                    )

        for future in [pool.submit(lambda1) for _ in range(THREADS)]:
            future.result()
        timings["lambda1_s"] = time.perf_counter() - started - timings["send_s"]

        # POC-Lambda-2: read the stream, publish each new order.
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        published = 0
        while published < orders:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = page["NextShardIterator"]
            inserts = [r for r in page["Records"] if r["eventName"] == "INSERT"]
            if not inserts:
                time.sleep(0.01)
                continue

            def publish(record: dict[str, Any]) -> None:
                image = record["dynamodb"]["NewImage"]
                sns.publish(
                    TopicArn=topic_arn,
                    Subject=f"New order {image['orderID']['S']}",
                    Message=f"New order {image['orderID']['S']}\n\n{image['order']['S']}",
                )

            list(pool.map(publish, inserts))
            published += len(inserts)
    elapsed = time.perf_counter() - started
    timings["lambda2_s"] = elapsed - timings["send_s"] - timings["lambda1_s"]
    return {
        "orders": orders,
        "seconds": elapsed,
        "orders_per_s": orders / elapsed,
        "redelivered": redelivered,
        **timings,
    }


class MotoServer:
    """`moto_server` on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        moto = VENV_BIN / "moto_server"
        command = [str(moto)] if moto.exists() else [PYTHON, "-m", "moto.server"]
        self.process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 60)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        stop(self.process)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- RabbitMQ ----------------------------------------------------------------------------


def ensure_rabbitmq(timeout: float = 90.0) -> None:
    """Start the machine's RabbitMQ (`rabbitmq-server -detached`) if nothing listens on 5672."""
    if port_open(5672):
        return
    subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
    wait_port(5672, timeout)
    time.sleep(2)  # the port opens a moment before the broker accepts logins


class RabbitQueueBench:
    """Publish (confirmed, persistent) and consume (acked) `total` messages in batches."""

    def __init__(self, total: int, batch: int) -> None:
        import pika

        self.pika = pika
        self.total = total
        self.batch = batch
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.published = 0
        self.unconfirmed = 0
        self.next_tag = 0
        self.consumed = 0
        self.started = 0.0
        self.finished = 0.0
        self.version = ""
        self.error: str | None = None
        self.publisher: Any = None
        self.consumer: Any = None
        params = pika.ConnectionParameters(
            "127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest")
        )
        self.connection = pika.SelectConnection(
            params,
            on_open_callback=self._opened,
            on_open_error_callback=self._failed,
            on_close_callback=lambda conn, reason: conn.ioloop.stop(),
        )

    def run(self) -> float:
        self.connection.ioloop.start()
        if self.error is not None:
            raise RuntimeError(f"RabbitMQ: {self.error}")
        return self.total / (self.finished - self.started)

    def _failed(self, connection: Any, error: Exception) -> None:
        self.error = str(error)
        connection.ioloop.stop()

    def _opened(self, connection: Any) -> None:
        props = getattr(connection, "server_properties", None) or {}
        version = props.get("version", b"")
        self.version = version.decode() if isinstance(version, bytes) else str(version)
        connection.channel(on_open_callback=self._publisher_open)

    def _publisher_open(self, channel: Any) -> None:
        self.publisher = channel
        channel.confirm_delivery(self._confirmed)
        channel.queue_declare(self.queue, durable=True, callback=self._declared)

    def _declared(self, frame: Any) -> None:
        self.connection.channel(on_open_callback=self._consumer_open)

    def _consumer_open(self, channel: Any) -> None:
        self.consumer = channel
        channel.basic_qos(prefetch_count=self.batch, callback=self._qos_set)

    def _qos_set(self, frame: Any) -> None:
        self.consumer.basic_consume(self.queue, self._delivered, auto_ack=False)
        self.started = time.perf_counter()
        self._publish_batch()

    def _publish_batch(self) -> None:
        properties = self.pika.BasicProperties(delivery_mode=2, content_type="application/json")
        count = min(self.batch, self.total - self.published)
        for _ in range(count):
            self.publisher.basic_publish("", self.queue, BODY, properties)
            self.next_tag += 1
        self.published += count
        self.unconfirmed = count

    def _confirmed(self, frame: Any) -> None:
        method = frame.method
        if method.NAME != "Basic.Ack":
            self.error = f"the broker refused a message ({method.NAME})"
            self.connection.close()
            return
        if method.multiple:
            pending = self.next_tag - method.delivery_tag
            self.unconfirmed = min(self.unconfirmed, pending)
        else:
            self.unconfirmed -= 1
        if self.unconfirmed <= 0 and self.published < self.total:
            self._publish_batch()

    def _delivered(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.consumed += 1
        if self.consumed % self.batch == 0 or self.consumed == self.total:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if self.consumed == self.total:
            self.finished = time.perf_counter()
            channel.queue_delete(self.queue, callback=lambda frame: self.connection.close())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("peer", choices=["moto", "rabbit"])
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    if args.peer == "moto":
        result = moto_path(args.endpoint, args.orders)
    else:
        bench = RabbitQueueBench(args.messages, args.batch)
        rate = bench.run()
        result = {"msgs_per_s": rate, "messages": args.messages, "version": bench.version}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
