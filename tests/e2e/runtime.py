"""Driving `sluiceway` as a user does: as a separate process, killed however we like."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

READY = " ready on "


class RuntimeProcess:
    """`sluiceway run ...` in a subprocess; `start()` returns once it prints its ready line."""

    def __init__(
        self, data_dir: Path, args: Sequence[str], *, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []
        self._log: IO[str] | None = None

    def start(self, timeout: float = 20.0) -> RuntimeProcess:
        self._log = open(self.data_dir.parent / "runtime.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sluiceway",
                "run",
                *self.args,
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
                "--log-format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=self.env,
            start_new_session=True,  # a process group of its own: `kill_tree` kills it all
        )
        ready = threading.Event()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            # A kill closes the pipe under this loop (after a tree kill its children may
            # still hold the other end, so no end of file came first).
            with contextlib.suppress(ValueError, OSError):
                for line in stdout:
                    self.output.append(line.rstrip("\n"))
                    if READY in line and not ready.is_set():
                        self.url = line.split(READY, 1)[1].split()[0]
                        ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise AssertionError(f"sluiceway run did not get ready; said: {self.output}")
        return self

    def line(self, text: str, timeout: float = 10.0) -> str:
        """The first output line holding `text` (the lines after the ready line, such as a
        template's outputs, may come a moment after `start()` returned)."""
        deadline = time.monotonic() + timeout
        while not (found := [line for line in self.output if text in line]):
            if time.monotonic() > deadline:
                raise AssertionError(f"sluiceway run never printed {text!r}; said: {self.output}")
            time.sleep(0.05)
        return found[0]

    def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close()

    def kill_tree(self) -> None:
        """kill -9 of the whole process group at once (the runtime, its front door, delivery
        process and environments), as a container stop, an OOM kill of the cgroup or a power
        cut stops them."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._close()

    def stop(self) -> int:
        """SIGTERM, as an operator's Ctrl-C or a service manager would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(20)
        self._close()
        return code

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run a `sluiceway` command as a user would, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "sluiceway", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def template_outputs(runtime: RuntimeProcess, timeout: float = 20.0) -> dict[str, Any]:
    """What `sluiceway outputs --json` reads: a template's Outputs (by key, local values) and its
    API keys, once the runtime has written them (just after its ready line)."""
    path = runtime.data_dir / "outputs.json"
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            raise AssertionError(f"no outputs.json; said: {runtime.output}")
        time.sleep(0.05)
    document = json.loads(path.read_text())
    outputs = {o["OutputKey"]: o["OutputValue"] for o in document["outputs"]}
    return {"outputs": outputs, "api_keys": document.get("api_keys", {})}
