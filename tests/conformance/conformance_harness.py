"""The conformance harness: every case runs twice, against moto's in-process `mock_aws` and
against the sluiceway runtime over real HTTP, and both must observe the same answers.

A case is a small function of a `Clients` object (`c.sqs`, `c.dynamodb`, `c.dynamodbstreams`,
`c.sns`, `c.iot_data`: boto3 clients of one backend) that makes its own resources, under names
unique to the case (`c.name()`), and returns what it observed: responses, and errors caught
with `c.error(...)`. `normalize` rewrites what may differ between any two correct
implementations (request and message ids, receipt handles, times, sequence numbers, endpoint
URLs) to placeholders, keeping every key, so shapes and values are compared.

Where moto answers what AWS does not, the case wraps that observation in `c.differs(...)`,
carrying AWS's answer and the documentation that says so: sluiceway must give AWS's answer,
and moto's own answer is recorded, so that a moto that comes to agree with AWS is noticed.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sluiceway import App
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine, Settings
from support import aws_client, gateway

ACCOUNT_ID = "123456789012"  # moto's account, so that ARNs compare equal
REGION = "us-east-1"
CLIENTS = {
    "sqs": "sqs",
    "dynamodb": "dynamodb",
    "dynamodbstreams": "dynamodbstreams",
    "sns": "sns",
    "iot_data": "iot-data",
}

# Keys whose values are ids, handles, times or sequence numbers: any two correct answers
# differ there, so only their presence is compared.
OPAQUE = frozenset(
    {
        "MessageId",
        "ReceiptHandle",
        "RequestId",
        "SequenceNumber",
        "SenderId",
        "SentTimestamp",
        "ApproximateFirstReceiveTimestamp",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "SequenceNumberForOrdering",
        "ShardIterator",
        "NextShardIterator",
        "ShardId",
        "StreamLabel",
        "LatestStreamLabel",
        "TableId",
        "eventID",
        "StartingSequenceNumber",
        "EndingSequenceNumber",
        "TaskHandle",
        "StartedTimestamp",
        "ApproximateCreationDateTime",
        "CreationDateTime",
        "CreationDate",
        "RequestTime",
    }
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
STREAM_LABEL = re.compile(r"(:table/[^/]+/stream/)[^\"'\s]+")
MOTO_ENDPOINT = re.compile(r"https?://(sqs|sns|dynamodb)\.[a-z0-9-]+\.amazonaws\.com")
SERVER = re.compile(r"https?://127\.0\.0\.1:\d+")


def normalize(value: Any, key: str | None = None) -> Any:
    """`value` with ids, times and endpoints as placeholders (keys and shapes kept)."""
    if key in OPAQUE:
        return f"<{key}>"
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items() if k not in ("ResponseMetadata",)}
    if isinstance(value, list | tuple):
        found = [normalize(v) for v in value]
        # DynamoDB's sets have no order
        return sorted(found, key=repr) if key in ("SS", "NS", "BS") else found
    if isinstance(value, datetime.datetime):
        return "<time>"
    if isinstance(value, str):
        value = MOTO_ENDPOINT.sub("<endpoint>", SERVER.sub("<endpoint>", value))
        value = STREAM_LABEL.sub(r"\1<label>", value)
        return UUID.sub("<uuid>", value)
    return value


def observed_error(error: ClientError, *, message: bool) -> dict[str, Any]:
    """What a client sees of an error: code, HTTP status, message (unless `message` is
    False), and the error shape's other members (DynamoDB's `CancellationReasons`, `Item`)."""
    response: dict[str, Any] = dict(error.response)
    found: dict[str, Any] = {
        "Error": response["Error"].get("Code"),
        "HTTPStatusCode": response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
    }
    if message:
        found["Message"] = response["Error"].get("Message")
    for extra, value in response.items():
        # moto repeats a json error's lowercase `message` beside the parsed one
        if extra not in ("Error", "ResponseMetadata", "message"):
            found[extra] = value
    return found


@dataclass(frozen=True)
class Divergence:
    """Where moto is not AWS: what AWS answers (per `source`), and what moto answers."""

    aws: Any
    moto: Any
    source: str
    note: str


@dataclass
class Divergent:
    """An observation compared against AWS's documented answer, not against the other
    backend."""

    observed: Any
    divergence: Divergence


class Clients:
    """One backend's boto3 clients, as a case sees them."""

    def __init__(self, backend: Backend, case: str) -> None:
        self.backend = backend
        self.case = case

    @property
    def sqs(self) -> Any:
        return self.backend.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.backend.client("dynamodb")

    @property
    def dynamodbstreams(self) -> Any:
        return self.backend.client("dynamodbstreams")

    @property
    def sns(self) -> Any:
        return self.backend.client("sns")

    @property
    def iot_data(self) -> Any:
        return self.backend.client("iot_data")

    def deliver(self) -> None:
        """Let deliveries happen (SNS to SQS): moto delivers within the publish, the runtime
        in its delivery workers, run here until idle."""
        self.backend.deliver()

    def name(self, tag: str = "") -> str:
        """A resource name unique to this case (the same on both backends)."""
        base = self.case.replace("_", "-")[:60]
        return f"{base}-{tag}" if tag else base

    def error(self, method: Callable[..., Any], /, message: bool = True, **params: Any) -> Any:
        """The error `method(**params)` answers (or, if it succeeds, what it answered)."""
        try:
            answer = method(**params)
        except ClientError as error:
            return observed_error(error, message=message)
        except Exception as crash:  # moto, in-process, may raise its own exceptions
            return {"Crash": type(crash).__name__}
        return {"UnexpectedSuccess": answer}

    def attempt(self, method: Callable[..., Any], /, message: bool = True, **params: Any) -> Any:
        """What `method(**params)` answers, or the error it raises."""
        try:
            return method(**params)
        except ClientError as error:
            return observed_error(error, message=message)
        except Exception as crash:  # moto, in-process, may raise its own exceptions
            return {"Crash": type(crash).__name__}

    def differs(self, observed: Any, *, aws: Any, moto: Any, source: str, note: str) -> Any:
        """`observed` must be AWS's answer on sluiceway, and is moto's recorded one on moto."""
        return Divergent(observed, Divergence(aws, moto, source, note))


Case = Callable[[Clients], list[Any]]


@dataclass
class Backend:
    """The boto3 clients of one implementation; `calls` counts each (service, operation)."""

    label: str
    make: Callable[[str], Any]
    deliver: Callable[[], Any] = lambda: None
    clients: dict[str, Any] = field(default_factory=dict)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)

    def client(self, name: str) -> Any:
        if name not in self.clients:
            client = self.make(CLIENTS[name])
            client.meta.events.register("before-call", self._count)
            self.clients[name] = client
        return self.clients[name]

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1

    @contextmanager
    def running(self) -> Iterator[None]:
        yield


class MotoBackend(Backend):
    """moto's `mock_aws`, started afresh for each case (moto keeps all in memory)."""

    def __init__(self) -> None:
        super().__init__("moto", self._make)

    @staticmethod
    def _make(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    @contextmanager
    def running(self) -> Iterator[None]:
        from moto import mock_aws

        with mock_aws():
            yield


@contextmanager
def sluiceway_backend(data_dir: Path, app: App | None = None, **options: Any) -> Iterator[Backend]:
    """A runtime of `app` (by default one that declares nothing) on a real port, in moto's
    account."""
    app = app or App("conformance")
    settings = Settings(data_dir=data_dir, account_id=ACCOUNT_ID, region=REGION, **options)
    engine = LocalEngine(app, settings, clock=VirtualClock(), env={}).open()
    with ExitStack() as stack:
        stack.callback(engine.close)
        url = stack.enter_context(gateway(engine))
        yield Backend("sluiceway", lambda service: aws_client(engine, url, service), engine.drain)


@dataclass(frozen=True)
class Quirk:
    """A member moto adds to answers where AWS sends none (per `source`): dropped from
    moto's observations only, so sluiceway must not send it."""

    key: str
    note: str
    source: str


def without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    if isinstance(value, Divergent):
        return Divergent(without(value.observed, keys), value.divergence)
    return value


@dataclass
class Suite:
    """A module's cases, registered by `@suite.case` (`pending=` marks a case whose
    operation has not landed yet: xfail, not strict)."""

    service: str
    quirks: tuple[Quirk, ...] = ()
    cases: dict[str, tuple[Case, str | None]] = field(default_factory=dict)

    def case(self, pending: str | None = None) -> Callable[[Case], Case]:
        def register(function: Case) -> Case:
            assert function.__name__ not in self.cases, function.__name__
            self.cases[function.__name__] = (function, pending)
            return function

        return register

    def params(self) -> list[Any]:
        return [
            pytest.param(
                name,
                id=name,
                marks=[pytest.mark.xfail(strict=False, reason=f"{pending}: not landed yet")]
                if pending
                else [],
            )
            for name, (_, pending) in self.cases.items()
        ]


def observe(suite: Suite, name: str, backend: Backend) -> list[Any]:
    case, _ = suite.cases[name]
    with backend.running():
        found = case(Clients(backend, name))
    if backend.label == "moto" and suite.quirks:
        found = without(found, frozenset(q.key for q in suite.quirks))
    return found


def settle(observations: list[Any], backend: str) -> list[Any]:
    """Normalized observations, divergent ones checked against AWS's (sluiceway) or moto's
    recorded answer (moto) and replaced by their note."""
    settled: list[Any] = []
    for observation in observations:
        if isinstance(observation, Divergent):
            divergence = observation.divergence
            expected = divergence.aws if backend == "sluiceway" else divergence.moto
            got = normalize(observation.observed)
            assert got == expected, (
                f"{backend} should answer {expected!r} ({divergence.note}; "
                f"{divergence.source}), not {got!r}"
            )
            settled.append(f"<differs: {divergence.note}>")
        else:
            settled.append(normalize(observation))
    return settled


def run(suite: Suite, name: str, moto: Backend, sluiceway: Backend) -> tuple[Any, Any]:
    """Run case `name` on both backends: (sluiceway's observations, moto's), to be equal
    (asserted in the test module, where pytest shows the difference)."""
    expected = settle(observe(suite, name, moto), "moto")
    return settle(observe(suite, name, sluiceway), "sluiceway"), expected


@contextmanager
def backends(
    data_dir: Path, app: App | None = None, **options: Any
) -> Iterator[tuple[Backend, Backend]]:
    with sluiceway_backend(data_dir, app, **options) as runtime:
        yield MotoBackend(), runtime
