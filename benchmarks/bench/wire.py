"""boto3 over the wire: the same client code against moto in server mode and against
sluiceway's AWS APIs, and the same work through sluiceway's own handles in-process.

For N messages: SendMessage each (two client processes of four threads each), then
ReceiveMessage (10 at a time) and DeleteMessageBatch until every one is back. For N items:
PutItem each, GetItem each, and a Query per item (its partition holds N/100 items; the
query reads one sort key). The
handles do the same where they have the call: `queue.send_message`, `table.put_item`,
`get_item`, `query` (a handle receives no messages: its functions do).

    python -m bench.wire moto --n 2000
    python -m bench.wire sluiceway --n 2000
    python -m bench.wire handles --n 2000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import SEED_ORDER, fresh_dir
from bench.peers import MotoServer
from bench.servers import Runtime

THREADS = 4
PROCESSES = 2  # client processes: one boto3 process is bound by its own GIL
BODY = SEED_ORDER.decode()
APP = str(Path(__file__).with_name("wire_app.py"))
QUEUE, TABLE = "bench-queue", "bench-table"


def _rate(count: int, body: Callable[[], None]) -> float:
    started = time.perf_counter()
    body()
    return count / (time.perf_counter() - started)


def _in_threads(items: range, call: Callable[[int], Any]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(call, items))


PHASES = (
    "sqs_send_per_s",
    "sqs_receive_delete_per_s",
    "ddb_put_per_s",
    "ddb_get_per_s",
    "ddb_query_per_s",
)


def _key(i: int) -> dict[str, Any]:
    return {"pk": {"S": f"p{i % 100}"}, "sk": {"N": str(i)}}


def _phase(name: str, sqs: Any, ddb: Any, url: str, mine: range, received: Any, n: int) -> None:
    """One process's share of one measured phase (items `mine` of the N)."""
    if name == "sqs_send_per_s":
        _in_threads(mine, lambda _: sqs.send_message(QueueUrl=url, MessageBody=BODY))
    elif name == "sqs_receive_delete_per_s":
        # Every process receives until all N are back (whoever gets them).
        while received.value < n:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
                with received.get_lock():
                    received.value += len(got)
    elif name == "ddb_put_per_s":
        item = {"order": {"S": BODY}}
        _in_threads(mine, lambda i: ddb.put_item(TableName=TABLE, Item={**_key(i), **item}))
    elif name == "ddb_get_per_s":
        _in_threads(mine, lambda i: ddb.get_item(TableName=TABLE, Key=_key(i)))
    else:

        def query(i: int) -> None:
            found = ddb.query(
                TableName=TABLE,
                KeyConditionExpression="pk = :p AND sk = :s",
                ExpressionAttributeValues={":p": {"S": f"p{i % 100}"}, ":s": {"N": str(i)}},
            )
            assert found["Count"] == 1, found

        _in_threads(mine, query)


def _client_process(
    index: int, endpoint: str, keys: tuple[str, str], n: int, sync: Any, received: Any, out: Any
) -> None:
    sqs, ddb = _clients(endpoint, *keys)
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    mine = range(index, n, PROCESSES)
    for name in PHASES:
        sync.wait()  # every process starts each phase together
        started = time.perf_counter()
        _phase(name, sqs, ddb, url, mine, received, n)
        out.put((name, started, time.perf_counter()))


def drive(endpoint: str, keys: tuple[str, str], n: int) -> dict[str, float]:
    """The measured calls, identical for every target reached over the wire: N calls per
    phase from PROCESSES client processes of THREADS threads each, started together; a
    phase's rate is N over the time from its first start to its last end."""
    context = multiprocessing.get_context("spawn")
    sync, received, out = context.Barrier(PROCESSES), context.Value("i", 0), context.Queue()
    workers = [
        context.Process(target=_client_process, args=(i, endpoint, keys, n, sync, received, out))
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    spans: dict[str, list[tuple[float, float]]] = {name: [] for name in PHASES}
    for _ in range(PROCESSES * len(PHASES)):
        name, started, ended = out.get(timeout=900)
        spans[name].append((started, ended))
    for worker in workers:
        worker.join(60)
    return {
        name: n / (max(e for _, e in runs) - min(s for s, _ in runs))
        for name, runs in spans.items()
    }


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
        return drive(moto.endpoint, ("testing", "testing"), n)


def on_sluiceway(n: int) -> dict[str, float]:
    from sluiceway.core.wire.credentials import Keyring

    data_dir = fresh_dir("wire-sluiceway")
    with Runtime(data_dir, APP) as runtime:
        admin = Keyring.load(data_dir / "keys").admin
        return drive(runtime.url, (admin.access_key, admin.secret_key), n)


def on_handles(n: int) -> dict[str, float]:
    from bench import wire_app as handles
    from sluiceway.dynamodb.keys import SortKey
    from sluiceway.local import LocalEngine, Settings

    out: dict[str, float] = {}
    settings = Settings(data_dir=fresh_dir("wire-handles"))
    with LocalEngine(handles.app, settings):
        out["sqs_send_per_s"] = _rate(
            n, lambda: _in_threads(range(n), lambda _: handles.queue.send_message(BODY))
        )
        item = {"order": BODY}
        out["ddb_put_per_s"] = _rate(
            n,
            lambda: _in_threads(
                range(n), lambda i: handles.table.put_item({"pk": f"p{i % 100}", "sk": i, **item})
            ),
        )
        out["ddb_get_per_s"] = _rate(
            n,
            lambda: _in_threads(
                range(n), lambda i: handles.table.get_item({"pk": f"p{i % 100}", "sk": i})
            ),
        )
        out["ddb_query_per_s"] = _rate(
            n,
            lambda: _in_threads(
                range(n), lambda i: handles.table.query(f"p{i % 100}", sort_key=SortKey.eq(i))
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
