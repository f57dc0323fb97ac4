"""boto3 over the wire: the same client code against moto in server mode and against
sluiceway's AWS APIs, and the same work through sluiceway's own handles in-process.

For N messages: SendMessage each (four client threads), then ReceiveMessage (10 at a time)
and DeleteMessageBatch until every one is back. For N items: PutItem each, GetItem each,
and a Query per item (its partition holds N/100 items; the query reads one sort key). The
handles do the same where they have the call: `queue.send_message`, `table.put_item`,
`get_item`, `query` (a handle receives no messages: its functions do).

    python -m bench.wire moto --n 2000
    python -m bench.wire sluiceway --n 2000
    python -m bench.wire handles --n 2000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import SEED_ORDER, fresh_dir
from bench.peers import MotoServer
from bench.servers import Runtime

THREADS = 4
BODY = SEED_ORDER.decode()
APP = str(Path(__file__).with_name("wire_app.py"))
QUEUE, TABLE = "bench-queue", "bench-table"


def _rate(count: int, body: Callable[[], None]) -> float:
    started = time.perf_counter()
    body()
    return count / (time.perf_counter() - started)


def _in_threads(n: int, call: Callable[[int], Any]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(call, range(n)))


def drive(sqs: Any, ddb: Any, n: int) -> dict[str, float]:
    """The measured calls: identical for every target reached over the wire."""
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    out: dict[str, float] = {}
    out["sqs_send_per_s"] = _rate(
        n, lambda: _in_threads(n, lambda _: sqs.send_message(QueueUrl=url, MessageBody=BODY))
    )

    def drain() -> None:
        left = n
        while left > 0:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
                left -= len(got)

    out["sqs_receive_delete_per_s"] = _rate(n, drain)

    def key(i: int) -> dict[str, Any]:
        return {"pk": {"S": f"p{i % 100}"}, "sk": {"N": str(i)}}

    item = {"order": {"S": BODY}}
    out["ddb_put_per_s"] = _rate(
        n,
        lambda: _in_threads(n, lambda i: ddb.put_item(TableName=TABLE, Item={**key(i), **item})),
    )
    out["ddb_get_per_s"] = _rate(
        n, lambda: _in_threads(n, lambda i: ddb.get_item(TableName=TABLE, Key=key(i)))
    )

    def query(i: int) -> None:
        found = ddb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p AND sk = :s",
            ExpressionAttributeValues={":p": {"S": f"p{i % 100}"}, ":s": {"N": str(i)}},
        )
        assert found["Count"] == 1, found

    out["ddb_query_per_s"] = _rate(n, lambda: _in_threads(n, query))
    return out


def _clients(endpoint: str, access_key: str, secret_key: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2}, max_pool_connections=THREADS * 2)
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1"
    )
    return (
        session.client("sqs", endpoint_url=endpoint, config=config),
        session.client("dynamodb", endpoint_url=endpoint, config=config),
    )


def on_moto(n: int) -> dict[str, float]:
    with MotoServer() as moto:
        sqs, ddb = _clients(moto.endpoint, "testing", "testing")
        sqs.create_queue(QueueName=QUEUE)
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        return drive(sqs, ddb, n)


def on_sluiceway(n: int) -> dict[str, float]:
    from sluiceway.core.wire.credentials import Keyring

    data_dir = fresh_dir("wire-sluiceway")
    with Runtime(data_dir, APP) as runtime:
        admin = Keyring.load(data_dir / "keys").admin
        sqs, ddb = _clients(runtime.url, admin.access_key, admin.secret_key)
        return drive(sqs, ddb, n)


def on_handles(n: int) -> dict[str, float]:
    from bench import wire_app as handles
    from sluiceway.dynamodb.keys import SortKey
    from sluiceway.local import LocalEngine, Settings

    out: dict[str, float] = {}
    settings = Settings(data_dir=fresh_dir("wire-handles"))
    with LocalEngine(handles.app, settings):
        out["sqs_send_per_s"] = _rate(
            n, lambda: _in_threads(n, lambda _: handles.queue.send_message(BODY))
        )
        item = {"order": BODY}
        out["ddb_put_per_s"] = _rate(
            n,
            lambda: _in_threads(
                n, lambda i: handles.table.put_item({"pk": f"p{i % 100}", "sk": i, **item})
            ),
        )
        out["ddb_get_per_s"] = _rate(
            n,
            lambda: _in_threads(
                n, lambda i: handles.table.get_item({"pk": f"p{i % 100}", "sk": i})
            ),
        )
        out["ddb_query_per_s"] = _rate(
            n,
            lambda: _in_threads(
                n, lambda i: handles.table.query(f"p{i % 100}", sort_key=SortKey.eq(i))
            ),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["moto", "sluiceway", "handles"])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    run = {"moto": on_moto, "sluiceway": on_sluiceway, "handles": on_handles}[args.target]
    print(json.dumps({"target": args.target, "n": args.n, **run(args.n)}))


if __name__ == "__main__":
    main()
