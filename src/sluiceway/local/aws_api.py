"""The AWS APIs on the runtime's own port: a request that names a json target or carries a
Signature Version 4 is AWS's (`protocols.is_aws`), everything else is the app's.

Each request is authenticated against the runtime's `Keyring` (who signed it: a function, or
the admin), parsed from botocore's model, checked against the model's constraints where the
service has AWS validate them, and run by the service's own operation (``<service>/wire.py``)
on a worker thread, so that a store write or a long poll never holds the event loop. A
function's call is checked against its grants there, as IAM would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sluiceway.apigateway.asgi import Receive, Scope, Send
from sluiceway.apigateway.service_integration import AwsRequest
from sluiceway.awslambda import wire as lambda_wire
from sluiceway.awslambda.permissions import grants_for
from sluiceway.core import ids
from sluiceway.core.errors import SluicewayError
from sluiceway.core.wire import constraints, protocols, serialize
from sluiceway.core.wire.credentials import Keyring
from sluiceway.core.wire.errors import WireError
from sluiceway.core.wire.operations import ADMIN, Call, Caller, Operations
from sluiceway.core.wire.sigv4 import parse_authorization, verify
from sluiceway.dynamodb import streams_wire
from sluiceway.dynamodb import wire as dynamodb_wire
from sluiceway.iot import wire as iot_wire
from sluiceway.sns import wire as sns_wire
from sluiceway.sqs import wire as sqs_wire

log = logging.getLogger("sluiceway.aws")

MAX_BODY = 20 * 1024 * 1024  # above every service's own request limit (Lambda's is 6 MB)
# The services whose models' constraints AWS enforces with its Coral validation message.
CONSTRAINED = frozenset({"dynamodb", "dynamodbstreams"})
TABLES: tuple[Operations[Any], ...] = (
    sqs_wire.operations,
    dynamodb_wire.operations,
    streams_wire.operations,
    sns_wire.operations,
    iot_wire.operations,
    lambda_wire.operations,
)


class AwsApi:
    # `threads` run the operations: a ReceiveMessage long poll holds one for up to 20 s.
    def __init__(self, engine: Any, keyring: Keyring, *, threads: int = 64) -> None:
        self.engine = engine
        self.keyring = keyring
        self.operations: dict[str, Operations[Any]] = {t.service: t for t in TABLES}
        self._grants = {f.name: grants_for(f) for f in engine.graph.functions}
        self._roles = {f.name: f.role for f in engine.graph.functions if f.role is not None}
        for name in self._grants:
            keyring.add(name)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sluiceway-aws")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ids.uuid4()
        headers = _headers(scope)
        service = "sqs"
        try:
            service = protocols.service_of(headers)
            body = await _body(receive, headers)
            caller = self._authenticate(scope, headers, body)
        except WireError as error:
            protocol = (
                protocols.protocol_of(service, headers) if service in self.operations else None
            )
            status, extra, payload = self._error(
                service, self.operations.get(service), error, request_id, protocol
            )
        else:
            status, extra, payload = await self.answer(
                service,
                scope["method"],
                scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
                caller,
                _endpoint(scope, headers),
                request_id,
            )
        headers_out = [(b"content-length", str(len(payload)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": payload})

    async def integrate(self, request: AwsRequest) -> tuple[int, bytes]:
        """An API Gateway service integration's call: as its role (Credentials), or with
        every right when it names none (the gateway's own, as before IAM existed)."""
        caller = (
            Caller(ADMIN, "")
            if request.role is None
            else Caller(request.role.role, "", (), request.role)
        )
        endpoint = self.engine.aws_endpoint or "http://localhost"
        status, _, payload = await self.answer(
            request.service,
            request.method,
            request.path,
            request.query,
            dict(request.headers),
            request.body,
            caller,
            endpoint,
            ids.uuid4(),
        )
        return status, payload

    async def answer(
        self,
        service: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        caller: Caller,
        endpoint: str,
        request_id: str,
    ) -> serialize.Answer:
        """One authenticated request, parsed, run and serialized (or its error)."""
        table, protocol = None, None
        try:
            protocol = protocols.protocol_of(service, headers)
            table = self.operations[service]
            if "x-amz-target" not in headers and service in ("sqs", "sns"):
                protocol = "query"  # so that an unknown Action is answered in XML too
            request = protocols.parse_request(
                service, method, path, query, headers, body, table.query_names
            )
            name = request.operation.name
            handler = table.handlers.get(name)
            if handler is None:
                raise WireError(
                    "InvalidAction" if protocol == "query" else "UnknownOperationException",
                    f"sluiceway does not implement {service} {name}",
                )
            if service in CONSTRAINED:
                constraints.check(request.operation.input_shape, request.params)
            call = Call(
                service,
                name,
                caller,
                self.engine.region,
                endpoint,
                request_id,
                table.denied_code,
                table.denied_status,
            )
            loop = asyncio.get_running_loop()
            output = await loop.run_in_executor(
                self._executor, handler, self.engine, call, request.params
            )
            status, extra, payload = serialize.answer(
                request.operation, output, request_id, table.query_names, protocol
            )
        except WireError as error:
            status, extra, payload = self._error(service, table, error, request_id, protocol)
        except SluicewayError as error:
            wire = WireError(getattr(error, "code", "ValidationException"), str(error))
            status, extra, payload = self._error(service, table, wire, request_id, protocol)
        except Exception:
            log.exception("%s request failed", service)
            wire = WireError("InternalFailure", "internal error", status=500, sender=False)
            status, extra, payload = self._error(service, table, wire, request_id, protocol)
        return status, extra, payload

    def _error(
        self,
        service: str,
        table: Operations[Any] | None,
        error: WireError,
        request_id: str,
        protocol: str | None,
    ) -> serialize.Answer:
        codes = table.query_codes if table is not None else {}
        return serialize.error_answer(service, error, request_id, codes, protocol)

    def _authenticate(self, scope: Scope, headers: Mapping[str, str], body: bytes) -> Caller:
        authorization = headers.get("authorization")
        if authorization is None:
            raise WireError(
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token (sign it with the credentials "
                "`sluiceway env` prints)",
            )
        signature = parse_authorization(authorization)
        if signature is None:
            raise WireError(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and "
                "'Signature' parameters (AWS4-HMAC-SHA256)",
            )
        credentials = self.keyring.lookup(signature.access_key)
        if credentials is None:
            raise WireError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid. (sluiceway accepts "
                "the credentials `sluiceway env` prints, and gives each function its own)",
            )
        raw = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{headers.get('host', 'localhost')}{raw}" + (f"?{query}" if query else "")
        verify(
            signature,
            secret_key=credentials.secret_key,
            session_token=credentials.session_token,
            method=scope["method"],
            url=url,
            headers=headers,
            body=body,
            now=datetime.now(UTC),
        )
        principal = credentials.principal
        if principal == ADMIN:
            return Caller(ADMIN, credentials.access_key)
        return Caller(
            principal,
            credentials.access_key,
            self._grants.get(principal, ()),
            self._roles.get(principal),
        )


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _endpoint(scope: Scope, headers: Mapping[str, str]) -> str:
    scheme = scope.get("scheme", "http")
    return f"{scheme}://{headers.get('host', 'localhost')}"


async def _body(receive: Receive, headers: Mapping[str, str]) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise WireError("RequestEntityTooLarge", "Request must be smaller than 20 MB", status=413)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise WireError("RequestTimeout", "the client went away", status=408)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise WireError(
                "RequestEntityTooLarge", "Request must be smaller than 20 MB", status=413
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
