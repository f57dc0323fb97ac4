"""One execution environment, as the runtime sees it: its process, the variables it starts
with, its init phase, and the frames of an invocation over its channel.

Past its timeout an environment is killed and the invocation fails with Lambda's
``Task timed out after N.NN seconds``. An environment that dies (``os._exit``, a signal, a
``sys.exit()``, running out of its memory_size) fails only its invocation, with the error
type Lambda reports, and the next invocation gets a new one. What runs inside it is in
`sluiceway.local.environment_process`.

A handle call in an environment travels to the runtime over the environment's channel and
runs there *as the invocation*, on the thread that waits for the environment: the engine
sees it exactly as it sees a call from a handler thread, so permissions, deferred effects,
early table writes and trace hops are unchanged. The cost per call is one round trip over a
Unix socket (see ``benchmarks/run``'s channel figure).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluiceway.app.backend import Backend
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.invoke import Call, TaskTimedOut
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import logs, naming
from sluiceway.core.errors import SluicewayError
from sluiceway.core.frames import FrameReader, send_frame
from sluiceway.local.environment_process import EnvironmentConfig, describe_error

INIT_SECONDS = 10.0  # Lambda's limit on an on-demand environment's init phase

# What an environment keeps of the runtime's own variables: what finds programs,
# certificates and the installed packages. The rest (credentials, SLUICEWAY_*, OTEL_*) is
# the runtime's, not the function's.
INHERITED = (
    "PATH",
    "LANG",
    "LC_ALL",
    "HOME",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)
_SIGNALS = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGTERM: "terminated",
}
# What an environment may ask the runtime to do: the calls of a resource handle (every
# service's: `Backend` inherits them from each service's protocol, hence `dir`, not `vars`).
BACKEND_METHODS = frozenset(name for name in dir(Backend) if not name.startswith("_"))


class HandlerError(SluicewayError):
    """An invocation failed in its environment: `error_type` is what Lambda reports as
    ``errorType`` (the exception's class name, or ``Runtime.ExitError`` and kin)."""

    code = "Unhandled"

    def __init__(self, error_type: str, message: str, stack: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack = stack

    def __repr__(self) -> str:
        return f"{self.error_type}({str(self)!r})"


def config_for(
    function: FunctionSpec,
    env_id: str,
    tmp: Path,
    *,
    app: str,
    region: naming.Region,
    nice: int,
    inherited: Mapping[str, str],
    aws: Mapping[str, str] | None = None,
) -> EnvironmentConfig:
    """What a new environment of `function` starts with: Lambda's variables and the user's,
    its own temporary directory, and how to find the handler. `aws` is what an SDK needs to
    reach the runtime's AWS APIs as the function (endpoint, credentials): Lambda's role
    credentials, which the user cannot override (``AWS_ENDPOINT_URL`` they can)."""
    if function.code is not None:
        task_root = function.code.root
    else:
        module = sys.modules.get(function.module)
        task_root = (
            str(Path(module.__file__).parent)
            if module is not None and module.__file__
            else os.getcwd()
        )
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    variables = {
        **inherited,
        "LANG": inherited.get("LANG", "en_US.UTF-8"),
        "TZ": ":UTC",
        **(
            {"AWS_ENDPOINT_URL": aws["AWS_ENDPOINT_URL"]}
            if aws and "AWS_ENDPOINT_URL" in aws
            else {}
        ),
        **function.variables,
        **{k: v for k, v in (aws or {}).items() if k != "AWS_ENDPOINT_URL"},
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{env_id}",
        "AWS_REGION": region.region,
        "AWS_DEFAULT_REGION": region.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "_HANDLER": f"{function.module}.{function.qualname}",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": sys.prefix,
        "TMPDIR": str(tmp),
    }
    return EnvironmentConfig(
        app=app,
        cwd=os.getcwd() if function.code is None else function.code.root,
        sys_path=tuple(sys.path) if function.code is None else (*function.code.path, *sys.path),
        function=function.name,
        function_arn=naming.function_arn(region, function.name),
        module=function.module,
        qualname=function.qualname,
        code=function.code is not None,
        variables=tuple(variables.items()),
        tmp=str(tmp),
        memory_size=function.memory_size,
        nice=nice,
        log_level=logging.getLogger().level,
    )


@dataclass(eq=False)
class Environment:
    """One environment of `function`: its process, the runtime's end of its channel, and its
    temporary directory."""

    function: FunctionSpec
    id: str
    pid: int
    sock: socket.socket
    tmp: Path
    reader: FrameReader = field(init=False)
    last_used: float = field(default_factory=time.monotonic)
    exited: threading.Event = field(default_factory=threading.Event)
    status: int | None = None

    def __post_init__(self) -> None:
        self.reader = FrameReader(self.sock)

    def init(self, request_id: str, call: Call, graph: AppGraph, correlation: str | None) -> None:
        """Wait for the environment to get through its init phase (closed if it fails)."""
        deadline = time.monotonic() + INIT_SECONDS
        try:
            while True:
                try:
                    frame = self.reader.read(deadline)
                except TimeoutError:
                    raise TaskTimedOut(
                        f"Init phase timed out after {INIT_SECONDS:.2f} seconds"
                    ) from None
                except EOFError:
                    raise self._died(request_id) from None
                match frame[0]:
                    case "ready":
                        return
                    case "init_error":
                        raise HandlerError(frame[1], frame[2], tuple(frame[3]))
                    case "log":
                        self._log(None, frame, correlation)
                    case "call":
                        self._answer(call, graph, frame)
        except BaseException:
            self.close()
            raise

    def run(
        self,
        request_id: str,
        event: Any,
        traces: list[str | None],
        deadline: float,
        call: Call,
        graph: AppGraph,
    ) -> Any:
        """One invocation: the handler's result. Raises `TaskTimedOut` or `HandlerError`."""
        function = self.function
        remaining = deadline - time.monotonic()
        try:
            send_frame(self.sock, ("invoke", request_id, event, traces, remaining))
        except OSError:
            raise self._died(request_id) from None
        while True:
            try:
                frame = self.reader.read(deadline)
            except TimeoutError:
                self.kill()
                raise TaskTimedOut.after(function.timeout) from None
            except EOFError:
                raise self._died(request_id) from None
            match frame[0]:
                case "call":
                    self._answer(call, graph, frame)
                case "log":
                    self._log(request_id, frame, None)
                case "done":
                    return None if frame[1] is None else json.loads(frame[1])
                case "fail":
                    raise HandlerError(frame[1], frame[2], tuple(frame[3]))
                case other:
                    raise HandlerError("Runtime.Unknown", f"unexpected frame {other!r}")

    def kill(self) -> None:
        if not self.exited.is_set():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        self.kill()
        with contextlib.suppress(OSError):
            self.sock.close()
        shutil.rmtree(self.tmp.parent, ignore_errors=True)

    def exit_reason(self) -> str:
        """Lambda's words for how the environment ended: ``exit status 3``,
        ``signal: segmentation fault``, or that it gave no reason."""
        self.exited.wait(2)  # the template reports the exit just after the channel closed
        if self.status is None:
            return "Runtime exited without providing a reason"
        if os.WIFSIGNALED(self.status):
            number = os.WTERMSIG(self.status)
            name = _SIGNALS.get(signal.Signals(number), signal.strsignal(number) or str(number))
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {os.waitstatus_to_exitcode(self.status)}"

    def _answer(self, call: Call, graph: AppGraph, frame: tuple[Any, ...]) -> None:
        _, method, args, kwargs, trace = frame
        try:
            if method not in BACKEND_METHODS:
                raise SluicewayError(f"{method!r} is not a resource handle's call")
            resolved = tuple(_spec(graph, arg) for arg in args)
            reply: tuple[str, Any] = ("reply", call(method, resolved, kwargs, trace))
        except Exception as error:
            reply = ("raise", describe_error(error))
        try:
            send_frame(self.sock, reply)
        except pickle.PicklingError as error:
            send_frame(self.sock, ("raise", describe_error(SluicewayError(str(error)))))
        except OSError:
            pass  # it died; the next read says so

    def _log(self, request_id: str | None, frame: tuple[Any, ...], correlation: str | None) -> None:
        _, level, message, extra = frame
        trace = extra.pop("trace", None)
        logs.handler_record(
            level,
            message,
            function=self.function.name,
            request_id=request_id,
            correlation_id=trace or correlation,
            **extra,
        )

    def _died(self, request_id: str) -> HandlerError:
        self.kill()
        return HandlerError(
            "Runtime.ExitError", f"RequestId: {request_id} Error: {self.exit_reason()}"
        )


def _spec(graph: AppGraph, value: Any) -> Any:
    """The runtime's own spec for a ``("spec", kind, name)`` an environment sent."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "spec":
        _, kind, name = value
        match kind:
            case "QueueSpec":
                return graph.queue(name)
            case "TableSpec":
                return graph.table(name)
            case "TopicSpec":
                return graph.topic(name)
    return value
