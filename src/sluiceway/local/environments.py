"""Execution environments: each function's handler runs in worker processes of its own.

As in Lambda, an environment is started on demand, imports the function's code once (its
init phase), then serves one invocation at a time, warm, until it has been idle for
`idle_seconds` (then it is reaped). A function has as many environments as it has
invocations in flight, up to its ``reserved_concurrency`` (else `max_per_function`); an
invocation that finds none free within its timeout is throttled (TooManyRequestsException).

Environments are forks of a single-threaded template (see
`sluiceway.local.environment_process`); how the runtime talks to one, and how one fails,
is in `sluiceway.local.environment`.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sluiceway.app import App
from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.invoke import Call, Throttled
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import ids, naming
from sluiceway.core.errors import SluicewayError
from sluiceway.core.settings import Settings
from sluiceway.local.environment import INHERITED, Environment, HandlerError, config_for
from sluiceway.local.environment_process import EnvironmentConfig

log = logging.getLogger("sluiceway.environments")

IDLE_SECONDS = 300.0
MAX_PER_FUNCTION = 32
NICE = 10  # environments yield the CPU to the front door and the writer


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
                "sluiceway.local.environment_template",
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


# -- one function's -----------------------------------------------------------------------


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


class Environments:
    """Every function's environments in one runtime."""

    @classmethod
    def of(
        cls,
        app: App,
        settings: Settings,
        region: naming.Region,
        aws_variables: Callable[[str], Mapping[str, str]],
    ) -> Environments:
        """The environments of `app`'s functions, which import the app again by its origin
        (so it must have one: loaded by reference)."""
        if app.origin is None:
            raise SluicewayError(
                f"app '{app.name}' was not loaded by reference, so its functions cannot be "
                "imported in execution environments of their own; load it with "
                "sluiceway.app.loader.load_app('module:attr' or 'path/to/app.py'), or use "
                "isolation='thread' (--isolation thread)"
            )
        return cls(
            app=app.origin,
            graph=app.graph,
            region=region,
            root=Path(settings.data_dir) / "environments",
            idle_seconds=settings.environment_idle_seconds,
            aws_variables=aws_variables,
        )

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
        aws_variables: Callable[[str], Mapping[str, str]] = lambda _: {},
    ) -> None:
        self.app = app
        self.aws_variables = aws_variables
        self.graph = graph
        self.region = region
        self.root = root
        self.idle_seconds = idle_seconds
        self.max_per_function = max_per_function
        self.nice = nice
        source = os.environ if variables is None else variables
        self._inherited = {k: source[k] for k in INHERITED if k in source}
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
            # The idle ones too: one whose process exited (or whose template went) has left
            # `_by_pid`, but its channel is still open.
            idle = [e for pool in self._pools.values() for e in pool.idle]
            environments = list({id(e): e for e in [*self._by_pid.values(), *idle]}.values())
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
            result = environment.run(request_id, event, traces, deadline, call, self.graph)
            healthy = True
            return result
        except HandlerError as error:
            # The handler raised: its environment carries on (as on Lambda). It died: not.
            healthy = environment is not None and not error.error_type.startswith("Runtime.")
            raise
        finally:
            pool.give_back(environment, healthy)

    def _start(
        self, function: FunctionSpec, request_id: str, call: Call, correlation: str | None
    ) -> Environment:
        """A new environment of `function`, through its init phase."""
        env_id = ids.uuid4().replace("-", "")
        tmp = self.root / function.name / env_id / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        config = config_for(
            function,
            env_id,
            tmp,
            app=self.app,
            region=self.region,
            nice=self.nice,
            inherited=self._inherited,
            aws=self.aws_variables(function.name),
        )
        pid, sock = self.template.spawn(config)
        environment = Environment(function, env_id, pid, sock, tmp)
        with self._lock:
            self._by_pid[pid] = environment
            status = self._exits.pop(pid, None)
        if status is not None:
            self._exited(pid, status)
        environment.init(request_id, call, self.graph, correlation)
        return environment

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
