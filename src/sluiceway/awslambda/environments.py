"""Execution environments: each function's handler runs in worker processes of its own.

As in Lambda, an environment is started on demand, imports the function's code once (its
init phase), then serves one invocation at a time, warm, until it has been idle for
`idle_seconds` (then it is reaped). A function has as many environments as it has
invocations in flight, up to its ``reserved_concurrency`` (else `max_per_function`); an
invocation that finds none free within its timeout is throttled (TooManyRequestsException).

Past its timeout an environment is killed and the invocation fails with Lambda's
``Task timed out after N.NN seconds``. An environment that dies (``os._exit``, a signal, a
``sys.exit()``, running out of its memory_size) fails only its invocation, with the error
type Lambda reports, and the next invocation gets a new one. How environments are started
(forks of a single-threaded template) is in `sluiceway.awslambda.environment_process`.

A handle call in an environment travels to the runtime over the environment's channel and
runs there *as the invocation*, on the thread that waits for the environment: the engine
sees it exactly as it sees a call from a handler thread, so permissions, deferred effects,
early table writes and trace hops are unchanged. The cost per call is one round trip over a
Unix socket (see ``benchmarks/run``'s channel figure).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluiceway.app.backend import Backend
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.environment_process import EnvironmentConfig, describe_error
from sluiceway.awslambda.invoke import TaskTimedOut
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import ids, logs, naming
from sluiceway.core.errors import SluicewayError
from sluiceway.core.frames import FrameReader, send_frame

log = logging.getLogger("sluiceway.environments")

INIT_SECONDS = 10.0  # Lambda's limit on an on-demand environment's init phase
IDLE_SECONDS = 300.0
MAX_PER_FUNCTION = 32
NICE = 10  # environments yield the CPU to the front door and the writer

# What an environment keeps of the runtime's own variables: what finds programs,
# certificates and the installed packages. The rest (credentials, SLUICEWAY_*, OTEL_*) is
# the runtime's, not the function's.
_INHERITED = (
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


class Throttled(SluicewayError):
    """No environment of the function came free within its timeout (its concurrency is
    at its reserved_concurrency)."""

    code = "TooManyRequestsException"


# -- the template -------------------------------------------------------------------------


class Template:
    """The single-threaded process environments are forked from, and its control socket."""

    def __init__(self, on_exit: Callable[[int, int], None], on_gone: Callable[[], None]) -> None:
        self._on_exit = on_exit
        self._on_gone = on_gone
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._spawning: dict[int, Future[int]] = {}
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ready: Future[int] = Future()

    def start(self) -> None:
        """Spawn the template (without waiting for it: it gets ready in the background)."""
        if self._process is not None:
            self._process.poll()  # reap the one that died, if one did
        if self._control is not None:
            self._control.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sluiceway.awslambda.environment_template",
                str(theirs.fileno()),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._control = ours
        self._ready = Future()
        threading.Thread(
            target=self._read, args=(ours, self._ready), name="sluiceway-template", daemon=True
        ).start()

    def spawn(self, config: EnvironmentConfig) -> tuple[int, socket.socket]:
        """Fork an environment for `config`; its pid and the runtime's end of its channel."""
        with self._lock:
            if self._control is None or (self._ready.done() and self._ready.exception()):
                self.start()
            control = self._control
            ready = self._ready
        assert control is not None
        ready.result(timeout=30)
        ours, theirs = socket.socketpair()
        token = next(self._tokens)
        spawned: Future[int] = Future()
        self._spawning[token] = spawned
        try:
            with self._lock:
                socket.send_fds(
                    control, [pickle.dumps(("spawn", token, config))], [theirs.fileno()]
                )
            pid = spawned.result(timeout=30)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            self._spawning.pop(token, None)
        return pid, ours

    def _read(self, control: socket.socket, ready: Future[int]) -> None:
        while True:
            try:
                data = control.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = pickle.loads(data)
            match message[0]:
                case "ready":
                    ready.set_result(message[1])
                case "spawned":
                    future = self._spawning.get(message[1])
                    if future is not None:
                        future.set_result(message[2])
                case "exited":
                    self._on_exit(message[1], message[2])
        gone = SluicewayError("the environment template exited")
        self._on_gone()  # its environments died with it (PR_SET_PDEATHSIG)
        if not ready.done():
            ready.set_exception(gone)
        for future in list(self._spawning.values()):
            if not future.done():
                future.set_exception(gone)
        with self._lock:
            if self._control is control:
                # The next spawn starts a new template; its environments died with it.
                self._ready = Future()
                self._ready.set_exception(gone)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def close(self) -> None:
        with self._lock:
            control, self._control = self._control, None
        if control is not None:
            control.close()  # the template kills its environments and exits
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)


# -- one environment ----------------------------------------------------------------------


@dataclass(eq=False)
class Environment:
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


class _Pool:
    """One function's environments: the idle ones, and how many exist."""

    def __init__(self, function: FunctionSpec, cap: int) -> None:
        self.function = function
        self.cap = cap
        self.idle: list[Environment] = []
        self.count = 0
        self.cond = threading.Condition()

    def take(self, deadline: float) -> Environment | None:
        """A warm environment, or None when the caller may start one; raises `Throttled`
        when the function is at its concurrency until `deadline`."""
        with self.cond:
            while True:
                while self.idle:
                    environment = self.idle.pop()  # the most recently used: others idle out
                    if not environment.exited.is_set():
                        return environment
                    self.count -= 1  # died while idle (killed from outside): replace it
                    environment.close()
                if self.count < self.cap:
                    self.count += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.cond.wait(remaining):
                    raise Throttled(
                        f"Rate Exceeded: function '{self.function.name}' has {self.cap} "
                        "environments busy (its reserved_concurrency)"
                    )

    def give_back(self, environment: Environment | None, healthy: bool) -> None:
        with self.cond:
            if environment is not None and healthy:
                environment.last_used = time.monotonic()
                self.idle.append(environment)
            else:
                self.count -= 1
            self.cond.notify()
        if environment is not None and not healthy:
            environment.close()

    def reap(self, idle_before: float) -> list[Environment]:
        with self.cond:
            stale = [e for e in self.idle if e.last_used < idle_before]
            self.idle = [e for e in self.idle if e.last_used >= idle_before]
            self.count -= len(stale)
            self.cond.notify_all()
        return stale


# -- all of them --------------------------------------------------------------------------

Call = Callable[[str, tuple[Any, ...], dict[str, Any], str | None], Any]
# What an environment may ask the runtime to do: the calls of a resource handle.
BACKEND_METHODS = frozenset(name for name in vars(Backend) if not name.startswith("_"))


class Environments:
    """Every function's environments in one runtime."""

    def __init__(
        self,
        *,
        app: str,
        graph: AppGraph,
        region: naming.Region,
        root: Path,
        idle_seconds: float = IDLE_SECONDS,
        max_per_function: int = MAX_PER_FUNCTION,
        nice: int = NICE,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.graph = graph
        self.region = region
        self.root = root
        self.idle_seconds = idle_seconds
        self.max_per_function = max_per_function
        self.nice = nice
        source = os.environ if variables is None else variables
        self._inherited = {k: source[k] for k in _INHERITED if k in source}
        self._pools: dict[str, _Pool] = {}
        self._by_pid: dict[int, Environment] = {}
        self._exits: dict[int, int] = {}  # exits reported before the spawn's answer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.template = Template(self._exited, self._template_gone)
        self._reaper = threading.Thread(
            target=self._reap_loop, name="sluiceway-reaper", daemon=True
        )

    def start(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)  # what a killed runtime left
        self.template.start()
        self._reaper.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            environments = list(self._by_pid.values())
        for environment in environments:
            environment.close()
        self.template.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def alive(self) -> dict[str, int]:
        """How many environments each function has now (warm or busy)."""
        with self._lock:
            return {name: pool.count for name, pool in self._pools.items() if pool.count}

    def pids(self) -> list[int]:
        with self._lock:
            return [pid for pid, e in self._by_pid.items() if not e.exited.is_set()]

    # -- invoking -------------------------------------------------------------------------

    def invoke(
        self,
        function: FunctionSpec,
        request_id: str,
        event: Any,
        traces: list[str | None],
        call: Call,
        correlation: str | None,
    ) -> Any:
        """Run one invocation in an environment of `function`: the handler's result.
        Raises `TaskTimedOut`, `HandlerError` or `Throttled` as it fails."""
        pool = self._pool(function)
        deadline = time.monotonic() + function.timeout
        environment = pool.take(deadline)
        healthy = False
        try:
            if environment is None:
                environment = self._start(function, request_id, call, correlation)
            result = self._run(environment, request_id, event, traces, deadline, call)
            healthy = True
            return result
        except HandlerError as error:
            # The handler raised: its environment carries on (as on Lambda). It died: not.
            healthy = environment is not None and not error.error_type.startswith("Runtime.")
            raise
        finally:
            pool.give_back(environment, healthy)

    def _run(
        self,
        environment: Environment,
        request_id: str,
        event: Any,
        traces: list[str | None],
        deadline: float,
        call: Call,
    ) -> Any:
        function = environment.function
        remaining = deadline - time.monotonic()
        try:
            send_frame(environment.sock, ("invoke", request_id, event, traces, remaining))
        except OSError:
            raise self._died(environment, request_id) from None
        while True:
            try:
                frame = environment.reader.read(deadline)
            except TimeoutError:
                environment.kill()
                raise TaskTimedOut.after(function.timeout) from None
            except EOFError:
                raise self._died(environment, request_id) from None
            match frame[0]:
                case "call":
                    self._answer(environment, call, frame)
                case "log":
                    self._log(environment, request_id, frame, None)
                case "done":
                    return None if frame[1] is None else json.loads(frame[1])
                case "fail":
                    raise HandlerError(frame[1], frame[2], tuple(frame[3]))
                case other:
                    raise HandlerError("Runtime.Unknown", f"unexpected frame {other!r}")

    def _start(
        self, function: FunctionSpec, request_id: str, call: Call, correlation: str | None
    ) -> Environment:
        """A new environment of `function`, through its init phase."""
        env_id = ids.uuid4().replace("-", "")
        tmp = self.root / function.name / env_id / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        config = self._config(function, env_id, tmp)
        pid, sock = self.template.spawn(config)
        environment = Environment(function, env_id, pid, sock, tmp)
        with self._lock:
            self._by_pid[pid] = environment
            status = self._exits.pop(pid, None)
        if status is not None:
            self._exited(pid, status)
        deadline = time.monotonic() + INIT_SECONDS
        try:
            while True:
                try:
                    frame = environment.reader.read(deadline)
                except TimeoutError:
                    raise TaskTimedOut(
                        f"Init phase timed out after {INIT_SECONDS:.2f} seconds"
                    ) from None
                except EOFError:
                    raise self._died(environment, request_id) from None
                match frame[0]:
                    case "ready":
                        return environment
                    case "init_error":
                        raise HandlerError(frame[1], frame[2], tuple(frame[3]))
                    case "log":
                        self._log(environment, None, frame, correlation)
                    case "call":
                        self._answer(environment, call, frame)
        except BaseException:
            environment.close()
            raise

    def _config(self, function: FunctionSpec, env_id: str, tmp: Path) -> EnvironmentConfig:
        module = sys.modules.get(function.module)
        task_root = (
            str(Path(module.__file__).parent)
            if module is not None and module.__file__
            else os.getcwd()
        )
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        variables = {
            **self._inherited,
            "LANG": self._inherited.get("LANG", "en_US.UTF-8"),
            "TZ": ":UTC",
            **function.variables,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{env_id}",
            "AWS_REGION": self.region.region,
            "AWS_DEFAULT_REGION": self.region.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
            "_HANDLER": f"{function.module}.{function.qualname}",
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": sys.prefix,
            "TMPDIR": str(tmp),
        }
        return EnvironmentConfig(
            app=self.app,
            cwd=os.getcwd(),
            sys_path=tuple(sys.path),
            function=function.name,
            function_arn=naming.function_arn(self.region, function.name),
            module=function.module,
            qualname=function.qualname,
            variables=tuple(variables.items()),
            tmp=str(tmp),
            memory_size=function.memory_size,
            nice=self.nice,
            log_level=logging.getLogger().level,
        )

    def _answer(self, environment: Environment, call: Call, frame: tuple[Any, ...]) -> None:
        _, method, args, kwargs, trace = frame
        try:
            if method not in BACKEND_METHODS:
                raise SluicewayError(f"{method!r} is not a resource handle's call")
            resolved = tuple(map(self._spec, args))
            reply: tuple[str, Any] = ("reply", call(method, resolved, kwargs, trace))
        except Exception as error:
            reply = ("raise", describe_error(error))
        try:
            send_frame(environment.sock, reply)
        except pickle.PicklingError as error:
            send_frame(environment.sock, ("raise", describe_error(SluicewayError(str(error)))))
        except OSError:
            pass  # it died; the next read says so

    def _spec(self, value: Any) -> Any:
        """The runtime's own spec for a ``("spec", kind, name)`` an environment sent."""
        if isinstance(value, tuple) and len(value) == 3 and value[0] == "spec":
            _, kind, name = value
            match kind:
                case "QueueSpec":
                    return self.graph.queue(name)
                case "TableSpec":
                    return self.graph.table(name)
                case "TopicSpec":
                    return self.graph.topic(name)
        return value

    def _log(
        self,
        environment: Environment,
        request_id: str | None,
        frame: tuple[Any, ...],
        correlation: str | None,
    ) -> None:
        _, level, message, extra = frame
        trace = extra.pop("trace", None)
        logs.handler_record(
            level,
            message,
            function=environment.function.name,
            request_id=request_id,
            correlation_id=trace or correlation,
            **extra,
        )

    def _died(self, environment: Environment, request_id: str) -> HandlerError:
        environment.kill()
        return HandlerError(
            "Runtime.ExitError", f"RequestId: {request_id} Error: {environment.exit_reason()}"
        )

    # -- lifecycle ------------------------------------------------------------------------

    def _pool(self, function: FunctionSpec) -> _Pool:
        with self._lock:
            pool = self._pools.get(function.name)
            if pool is None:
                cap = function.reserved_concurrency or self.max_per_function
                pool = self._pools[function.name] = _Pool(function, cap)
            return pool

    def _exited(self, pid: int, status: int) -> None:
        with self._lock:
            environment = self._by_pid.pop(pid, None)
            if environment is None:
                self._exits[pid] = status
                return
        environment.status = status
        environment.exited.set()

    def _template_gone(self) -> None:
        """The template exited: its environments are gone too (none reports an exit now)."""
        with self._lock:
            environments = list(self._by_pid.values())
            self._by_pid.clear()
        for environment in environments:
            environment.exited.set()

    def _reap_loop(self) -> None:
        interval = max(0.05, min(30.0, self.idle_seconds / 4))
        while not self._stop.wait(interval):
            idle_before = time.monotonic() - self.idle_seconds
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                for environment in pool.reap(idle_before):
                    log.debug("reaping an idle environment of %s", pool.function.name)
                    environment.close()
