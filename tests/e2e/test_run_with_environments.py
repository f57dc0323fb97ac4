"""`sluiceway run` with each function in execution environments of its own: a handler
stuck in ``while True`` on a poison message is stopped at its timeout and dead-lettered
while the front door and the other functions carry on, and ``kill -9`` of the runtime
takes its whole process tree (the template and every environment) with it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from runtime import RuntimeProcess

from sluiceway.local import Admin
from support import wait_until

APP = Path(__file__).parent.parent / "apps" / "environments_app.py"


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def dead_letters(data: Path) -> list[str]:
    with Admin(data) as admin:
        return [
            json.loads(r["body"])["do"]
            for r in admin.store.query(
                "SELECT m.body FROM messages m JOIN queues q ON q.id = m.queue_id "
                "WHERE q.name = 'work-dlq'"
            )
        ]


def test_a_spinning_handler_is_stopped_and_dead_lettered_while_the_rest_carries_on(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(APP)]).start()
    try:
        with httpx.Client(base_url=runtime.url, timeout=10) as http:
            for do in ("spin", "exit", "segv"):
                assert http.post("/work", json={"do": do, "id": do}).status_code == 200
            # While the worker's environments spin and die, other functions answer.
            colours = [http.get("/blue").json()["variables"]["COLOUR"] for _ in range(20)]
            assert colours == ["blue"] * 20
            wait_until(lambda: sorted(dead_letters(data)) == ["exit", "segv", "spin"], 30)
            assert http.post("/work", json={"do": "store", "id": "after"}).status_code == 200
            wait_until(lambda: any("stored after" in line for line in runtime_log(tmp_path)))
        log = runtime_log(tmp_path)
        assert any("Task timed out after 1.00 seconds" in line for line in log)
        assert any("signal: segmentation fault" in line for line in log)
        assert any("exit status 3" in line for line in log)
    finally:
        assert runtime.stop() == 0


def runtime_log(tmp_path: Path) -> list[str]:
    return (tmp_path / "runtime.log").read_text().splitlines()


def test_kill_9_of_the_runtime_leaves_no_environment_behind(tmp_path: Path) -> None:
    runtime = RuntimeProcess(tmp_path / "data", [str(APP)]).start()
    assert runtime.process is not None
    environment = httpx.get(f"{runtime.url}/blue", timeout=10).json()["pid"]
    template = parent_of(environment)
    assert parent_of(template) == runtime.process.pid
    runtime.kill()
    wait_until(lambda: not alive(template) and not alive(environment), timeout=10)
