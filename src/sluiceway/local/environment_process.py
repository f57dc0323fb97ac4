"""Inside an execution environment: the template that forks environments, and the
environment that imports a function's code once and then serves its invocations.

How environments start, and why. The runtime has threads (the front door, the writer, the
pollers), and forking a process with threads is not safe: a lock another thread held at the
fork stays locked in the child forever. Spawning a fresh interpreter per environment is safe
but costs a cold start of 150-300 ms and a private copy of everything imported. So the
runtime spawns one *template* (``python -m sluiceway.local.environment_template FD``) while
it is starting: a single-threaded process that has imported sluiceway and waits. Each new
environment is a fork of the template: safe (no threads), a cold start of a few
milliseconds, and the imported modules shared copy-on-write. The environment then does what
Lambda's init phase does: sets the function's variables and its own temporary directory,
lowers its priority, caps its memory, and imports the function's module (boto3 clients,
connections and globals made there live as long as the environment).

The template dies with the runtime (it reads end-of-file on its control socket, and
PR_SET_PDEATHSIG kills it should it miss that), and each environment dies with the template
(PR_SET_PDEATHSIG), so a ``kill -9`` of the runtime leaves nothing behind.

Two channels:

- control (template <-> runtime, a SOCK_SEQPACKET socket, one pickled message per packet):
  ``("spawn", token, EnvironmentConfig)`` with the environment's channel attached as a file
  descriptor; the template answers ``("spawned", token, pid)`` and, when an environment
  exits, ``("exited", pid, wait_status)``.
- the environment's own channel (a stream socket, length-prefixed pickled frames). Runtime ->
  environment: ``("invoke", request_id, event, traces, remaining_seconds)``, ``("reply",
  value)``, ``("raise", error)``. Environment -> runtime: ``("ready",)`` or ``("init_error",
  type, message, stack)`` once, then per invocation any number of ``("call", method, args,
  kwargs, trace)`` (a resource handle's call, which the runtime runs as the invocation, so
  `uses=`, deferred effects and early writes behave as they do in one process) and ``("log",
  level, message, extra)``, then ``("done", json_text)`` or ``("fail", type, message,
  stack)``.

Everything crossing the channel is pickled: both ends are this package, on this machine.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import pickle
import resource
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from sluiceway.awslambda import invoke
from sluiceway.core.errors import SluicewayError
from sluiceway.core.frames import FrameReader, die_with_parent, send_frame

MEGABYTE = 1 << 20
OUT_OF_MEMORY = "Runtime exited with error: out of memory (past the function's memory_size)"


# -- what the runtime tells an environment at its start -----------------------------------


@dataclass(frozen=True)
class EnvironmentConfig:
    app: str  # what `load_app` reloads: a blueprint, module:attr or /abs/path/app.py:attr
    cwd: str
    sys_path: tuple[str, ...]
    function: str
    function_arn: str
    module: str  # where the handler is: Lambda's _HANDLER is module.qualname
    qualname: str
    code: bool  # a template's function: import `module` from sys_path[0], not the app
    variables: tuple[tuple[str, str], ...]  # the whole environment, Lambda's and the user's
    tmp: str
    memory_size: int
    nice: int
    log_level: int


def address_space() -> int:
    """Bytes of address space this process maps now (VmSize)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


# -- the environment ----------------------------------------------------------------------


class _Channel:
    """The environment's end: frames out under one lock (handler threads may log or call at
    once), one call in flight at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = FrameReader(sock)
        self._send = threading.Lock()
        self._call = threading.Lock()
        self.request_id: str | None = None

    def send(self, frame: Any) -> None:
        with self._send:
            send_frame(self.sock, frame)

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.request_id is None:
            raise SluicewayError(
                f"{method} was called outside an invocation (from a thread the handler left "
                "running after it returned); Lambda freezes such threads"
            )
        with self._call:
            self.send(("call", method, args, kwargs, invoke._trace.get()))
            kind, value = self.reader.read()
        if kind == "raise":
            raise rebuild_error(value)
        return value


def describe_error(error: BaseException) -> tuple[str, str, tuple[Any, ...], dict[str, Any]]:
    """An exception as data that survives pickling whatever its constructor takes."""
    state = {k: v for k, v in vars(error).items() if _picklable(v)}
    return type(error).__module__, type(error).__qualname__, error.args, state


def rebuild_error(described: tuple[str, str, tuple[Any, ...], dict[str, Any]]) -> BaseException:
    module, qualname, args, state = described
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise TypeError(qualname)
        error: BaseException = cls.__new__(cls)
        BaseException.__init__(error, *args)
        error.__dict__.update(state)
        return error
    except Exception:
        return SluicewayError(*args)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


class _RemoteBackend:
    """What the app's handles call inside an environment: each call goes to the runtime,
    which runs it as the invocation (see `sluiceway.app.backend.Backend` for the methods)."""

    def __init__(self, channel: _Channel, resolve: Callable[[Any], Any]) -> None:
        self._channel = channel
        self._resolve = resolve

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._channel.call(method, tuple(map(self._resolve, args)), kwargs)

        return call


class _Output(io.TextIOBase):
    """sys.stdout or sys.stderr in an environment: each line becomes a log frame (the
    runtime logs it with the function, request and trace ids)."""

    def __init__(self, channel: _Channel, name: str) -> None:
        self._channel = channel
        self._name = name
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._line(line)

    def _line(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            extra = {"stream": self._name, "trace": invoke._trace.get()}
            with contextlib.suppress(OSError):
                self._channel.send(("log", logging.INFO, line, extra))


class _Records(logging.Handler):
    """On the root logger in an environment: records become log frames."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        extra = {"origin": record.name, "trace": invoke._trace.get()}
        if record.exc_info:  # as text: the traceback's frames do not cross the channel
            extra["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        message = record.getMessage()
        with contextlib.suppress(OSError):
            self._channel.send(("log", record.levelno, message, extra))


def _prepare(config: EnvironmentConfig) -> None:
    """Lambda's environment: variables, /tmp, priority and memory, before the import."""
    os.environ.clear()
    os.environ.update(dict(config.variables))
    os.makedirs(config.tmp, exist_ok=True)
    import tempfile

    tempfile.tempdir = None  # read TMPDIR again
    with contextlib.suppress(OSError):
        os.nice(config.nice)
    # memory_size on top of what the interpreter and sluiceway map already (shared with the
    # template): the function's own code, data and imports get memory_size, as on Lambda
    # where the runtime's own share is small. RLIMIT_AS counts address space, so a handler's
    # allocation past it raises MemoryError (reported as Runtime.OutOfMemory).
    limit = address_space() + config.memory_size * MEGABYTE
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.chdir(config.cwd)
    sys.path[:] = list(config.sys_path)
    local = os.environ.get("AWS_ENDPOINT_URL")
    if local:
        from sluiceway.local.aws_redirect import redirect_once_imported

        redirect_once_imported(local)


def _stack(error: BaseException) -> list[str]:
    return [line.rstrip("\n") for line in traceback.format_tb(error.__traceback__)]


def _init(config: EnvironmentConfig, channel: _Channel) -> Callable[[Any, Any], Any]:
    """Import the function's code (Lambda's init phase) and find its handler; raises
    `_InitError` with Lambda's error type."""
    from sluiceway.app.loader import load_app

    module_name, qualname = config.module, config.qualname
    if config.code:
        return _init_code(config)
    try:
        app = load_app(config.app)
    except MemoryError as error:
        raise _InitError("Runtime.OutOfMemory", OUT_OF_MEMORY) from error
    except SyntaxError as error:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    except ImportError as error:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except Exception as error:
        raise _InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': {type(error).__name__}: {error}",
        ) from error
    graph = app.graph

    def resolve(value: Any) -> Any:
        from sluiceway.dynamodb.spec import TableSpec
        from sluiceway.sns.spec import TopicSpec
        from sluiceway.sqs.spec import QueueSpec

        if isinstance(value, QueueSpec | TableSpec | TopicSpec):
            return ("spec", type(value).__name__, value.name)
        return value

    app.bind(_RemoteBackend(channel, resolve))
    # The function by its name, as the AWS shim finds it: the app imported here must still
    # declare it (it may not, when a declaration depends on the environment).
    declared = next((f for f in graph.functions if f.name == config.function), None)
    if declared is None:
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{qualname}' missing on module '{module_name}': app '{app.name}' "
            f"declares no function '{config.function}' when imported in its environment",
        )
    return declared.handler


def _init_code(config: EnvironmentConfig) -> Callable[[Any, Any], Any]:
    """A template's function: its module imported from its code folder (the path is set up
    already), as Lambda's runtime imports ``Handler``, with Lambda's init error types."""
    from sluiceway.awslambda.code import CodeSource

    code = CodeSource(config.sys_path[0], f"{config.module}.{config.qualname}")
    try:
        return code.load()
    except MemoryError as error:
        raise _InitError("Runtime.OutOfMemory", OUT_OF_MEMORY) from error
    except SyntaxError as error:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{code.module}': {error}"
        ) from error
    except AttributeError as error:
        raise _InitError("Runtime.HandlerNotFound", str(error)) from error
    except ImportError as error:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{code.module}': {error}"
        ) from error
    except Exception as error:
        raise _InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{code.module}': {type(error).__name__}: {error}",
        ) from error


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def serve_environment(config: EnvironmentConfig, sock: socket.socket) -> NoReturn:
    """The environment's whole life: init, then invocations until the runtime hangs up."""
    channel = _Channel(sock)
    _prepare(config)
    sys.stdout = _Output(channel, "stdout")
    sys.stderr = _Output(channel, "stderr")
    root = logging.getLogger()
    root.handlers[:] = [_Records(channel)]
    root.setLevel(config.log_level)
    try:
        handler = _init(config, channel)
    except _InitError as error:
        cause = error.__cause__ or error
        channel.send(("init_error", error.error_type, str(error), _stack(cause)))
        _exit(1)
    channel.send(("ready",))
    from sluiceway.core.events import LambdaContext

    while True:
        try:
            _, request_id, event, traces, remaining = channel.reader.read()
        except EOFError:
            _exit(0)
        context = LambdaContext(
            function_name=config.function,
            function_arn=config.function_arn,
            request_id=request_id,
            memory_size=config.memory_size,
            deadline=time.monotonic() + remaining,
            now=time.monotonic,
        )
        if traces:
            event = invoke._traced(event, traces)
        channel.request_id = request_id
        trace_token = invoke._trace.set(None)
        try:
            result = handler(event, context)
            answer = None if result is None else json.dumps(result)
        except SystemExit as stop:
            _flush()
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            _exit(code)
        except MemoryError:
            channel.request_id = None
            channel.send(("fail", "Runtime.OutOfMemory", OUT_OF_MEMORY, []))
            _exit(137)
        except BaseException as error:
            _flush()
            channel.request_id = None
            channel.send(("fail", type(error).__name__, str(error), _stack(error)))
        else:
            _flush()
            channel.request_id = None
            channel.send(("done", answer))
        finally:
            invoke._trace.reset(trace_token)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _exit(code: int) -> NoReturn:
    _flush()
    os._exit(code)


# -- the template -------------------------------------------------------------------------


def _preload() -> None:
    """What every environment needs anyway, imported once and shared by all."""
    import sluiceway.app
    import sluiceway.app.loader
    import sluiceway.core.events  # noqa: F401


def template(control: socket.socket) -> NoReturn:
    """Fork an environment per request on `control`; report each one's exit."""
    die_with_parent()
    _preload()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runtime's to handle
    children: set[int] = set()
    control.send(pickle.dumps(("ready", os.getpid())))
    while True:
        try:
            readable, _, _ = select.select([control.fileno(), wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            os.read(wake_r, 4096)
            _reap(control, children)
        if control.fileno() in readable:
            try:
                data, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                for pid in children:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                os._exit(0)
            _, token, config = pickle.loads(data)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                control.close()
                die_with_parent()
                serve_environment(config, socket.socket(fileno=fds[0]))
            for fd in fds:
                os.close(fd)
            children.add(pid)
            control.send(pickle.dumps(("spawned", token, pid)))
            _reap(control, children)


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        with contextlib.suppress(OSError):
            control.send(pickle.dumps(("exited", pid, status)))


def main() -> NoReturn:
    """`python -m sluiceway.local.environment_template FD`: FD is the control socket."""
    template(socket.socket(fileno=int(sys.argv[1])))
