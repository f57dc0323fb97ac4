"""Jepsen-style total-order check of the orders system under kill -9.

Concurrent clients post unique orders (each with its own Idempotency-Key, retried with the
same key when a request dies with the runtime). The runtime is killed again and again: at
random moments, and at each named crash point (see sluiceway/local/faults.py). Afterwards
it runs to quiescence and every order is accounted for:

- lost: acknowledged (some attempt got a 200) but not in the table, or never emailed;
- duplicated: more than one item or more than one email for one order;
- unexpected: an item for an order no attempt was made for.

Function environments (the worker processes handlers run in) are killed at random too,
in the middle of invocations: each such invocation fails and its messages are received again.
So is the front door process (HTTP ingest): the requests it held fail, the runtime starts a
new one, and the clients retry with the same Idempotency-Key.

The figures are printed and written to tests/artifacts/crash-report.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

from sluiceway.core.faults import POINTS
from sluiceway.local import Admin
from sluiceway.sns.sender import SenderConfig
from support import SmtpServer, wait_until

pytestmark = pytest.mark.slow

ORDERS = 5000
CLIENTS = 48
KILLS = 24  # at least 20: every named point several times, the rest at random moments
# Kills of processes under the runtime the run must reach: the last orders are held back until
# they have (how long the load lasts otherwise depends on the machine's speed).
LEAST_KILLS_OF = {"environment": 10, "front door": 5}
SMTP_CONNECTIONS = SenderConfig.connections  # the delivery process's, each one email in flight
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


class Chaos:
    """Kills the runtime again and again, then starts it once more. Each runtime is started
    armed for how it will die: at a named crash point (its n-th visit), or unarmed, to be
    killed after a random number of acknowledgements."""

    def __init__(self, data: Path, smtp_url: str, seed: int) -> None:
        self.data = data
        self.smtp_url = smtp_url
        self.random = random.Random(seed)
        self.plan = [*POINTS * 4, *["random"] * (KILLS - 4 * len(POINTS))]
        self.random.shuffle(self.plan)
        self.kills: list[str] = []
        self.tree_kills = 0  # of the whole process group (every other random kill)
        self.kills_of: Counter[str] = Counter()  # environments and front doors killed
        self.acked = 0
        self.posted = False  # every order has had its attempts (the load is over)
        self.generation = 0
        self.changed = asyncio.Condition()
        self.runtime = self._start(self.plan[0])

    def _start(self, mode: str | None) -> RuntimeProcess:
        env = {}
        if mode is not None and mode != "random":
            # Late enough that work advances between kills, early enough to come soon.
            env["SLUICEWAY_CRASH_AT"] = f"{mode}:{self.random.randint(5, 80)}"
        args = ["--smtp", self.smtp_url, "--auto-confirm"]
        return RuntimeProcess(self.data, args, env=env).start()

    @property
    def url(self) -> str:
        return self.runtime.url

    async def acknowledged(self) -> None:
        async with self.changed:
            self.acked += 1
            self.changed.notify_all()

    async def killed(self, kind: str) -> None:
        async with self.changed:
            self.kills_of[kind] += 1
            self.changed.notify_all()

    async def killed_enough(self) -> None:
        """Until every kind of process has been killed its least number of times (at most
        two minutes: the assertions then say which fell short)."""

        def enough() -> bool:
            return all(self.kills_of[kind] >= n for kind, n in LEAST_KILLS_OF.items())

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(120), self.changed:
                await self.changed.wait_for(enough)

    async def restarted(self, since: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.generation != since)

    async def recovered(self, since: int) -> None:
        """After a failed request: the runtime restarted, or a moment passed (the front door
        alone died, and the runtime started a new one)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.restarted(since), 1.0)

    async def run(self, load: asyncio.Task[dict[str, str]]) -> None:
        for i, mode in enumerate(self.plan):
            if mode == "random":
                target = self.acked + self.random.randint(10, 150)
                async with self.changed:
                    await self.changed.wait_for(
                        lambda target=target: self.acked >= target or self.posted  # type: ignore[misc]
                    )
                if self.kills.count("random") % 2:
                    self.runtime.kill_tree()  # its delivery process dies with it
                    self.tree_kills += 1
                else:
                    self.runtime.kill()
            else:
                await asyncio.to_thread(self._await_death)
            self.kills.append(mode)
            upcoming = self.plan[i + 1] if i + 1 < len(self.plan) else None
            self.runtime = await asyncio.to_thread(self._start, upcoming)
            async with self.changed:
                self.generation += 1
                self.changed.notify_all()

    def _await_death(self) -> None:
        process = self.runtime.process
        assert process is not None
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            self.runtime.kill()  # the point was not reached in time: killed, then
        self.runtime.kill()  # closes its pipes


def parents() -> dict[int, int]:
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            found[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def environments_of(runtime: int) -> list[int]:
    """The pids of `runtime`'s function environments: the children of its template."""
    tree = parents()
    templates = {pid for pid, parent in tree.items() if parent == runtime}
    return [pid for pid, parent in tree.items() if parent in templates]


def front_door_of(runtime: int) -> list[int]:
    """The pid of `runtime`'s front door process (none while it is being replaced)."""
    found = []
    for pid, parent in parents().items():
        if parent == runtime:
            with contextlib.suppress(OSError):
                if b"front_door_process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
    return found


async def kill_at_random(
    chaos: Chaos,
    load: asyncio.Task[dict[str, str]],
    every: tuple[float, float],
    victims: Callable[[int], list[int]],
    kind: str,
) -> None:
    """While the load runs, every `every` (a range of seconds) kill -9 one of `victims` (of
    the runtime's pid), counting it in `chaos.kills_of[kind]`."""
    while not load.done():
        await asyncio.sleep(chaos.random.uniform(*every))
        process = chaos.runtime.process
        if process is None or process.poll() is not None:
            continue
        pids = victims(process.pid)
        if pids:
            try:
                os.kill(chaos.random.choice(pids), signal.SIGKILL)
            except ProcessLookupError:
                continue
            await chaos.killed(kind)


async def post(chaos: Chaos) -> dict[str, str]:
    """Every order, each until some attempt gets a 200 (at most 10 attempts; a failed attempt
    waits for the runtime to be back, or a second)."""
    acked: dict[str, str] = {}
    orders = iter(range(ORDERS))

    async def client() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            for n in orders:
                if n >= ORDERS - CLIENTS:
                    await chaos.killed_enough()
                ref = f"order-{n:05d}"
                for _ in range(10):
                    generation = chaos.generation
                    try:
                        answer = await http.post(
                            f"{chaos.url}/orders",
                            json={"ref": ref, "item": "gloves"},
                            headers={"Idempotency-Key": ref},
                        )
                    except httpx.HTTPError:
                        await chaos.recovered(generation)
                        continue
                    if answer.status_code == 200:
                        acked[ref] = answer.json()["MessageId"]
                        await chaos.acknowledged()
                        break

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    # Said under the condition: a kill waiting for more acknowledgements than will come
    # stops waiting (the task's own end would notify nobody).
    async with chaos.changed:
        chaos.posted = True
        chaos.changed.notify_all()
    return acked


def test_kill_9_at_random_and_at_every_crash_point_loses_and_doubles_nothing(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    data = tmp_path / "data"
    chaos = Chaos(data, smtp.url, seed=20261121)

    async def scenario() -> dict[str, str]:
        load = asyncio.create_task(post(chaos))
        killer = asyncio.create_task(
            kill_at_random(chaos, load, (0.2, 1.0), environments_of, "environment")
        )
        door_killer = asyncio.create_task(
            kill_at_random(chaos, load, (1.0, 3.0), front_door_of, "front door")
        )
        await chaos.run(load)
        acked = await load
        await killer
        await door_killer
        return acked

    acked = asyncio.run(scenario())
    final = chaos.runtime

    def settled() -> bool:
        with Admin(data) as admin:
            busy = sum(s.total for s in admin.queue_stats() if s.name == "POC-Queue")
            items = sum(1 for _ in admin.scan("orders"))
            waiting = [d for d in admin.deliveries() if d.status != "delivered"]
        return busy == 0 and not waiting and len(smtp.mailbox.messages) >= items

    try:
        wait_until(settled, timeout=120)
        # A message whose consumer crashed five times is dead-lettered, as on AWS (that is
        # what stops a message that crashes the runtime). The operator redrives them; the
        # Idempotency-Key keeps a redriven order from becoming a second one.
        with Admin(data) as admin:
            dead_lettered = next(s.total for s in admin.queue_stats() if s.name == "POC-DLQ")
            if dead_lettered:
                admin.redrive("POC-DLQ")
        wait_until(settled, timeout=120)
    finally:
        final.stop()

    with Admin(data) as admin:
        items = list(admin.scan("orders"))
        dead = {s.name: s.total for s in admin.queue_stats()}
    refs = Counter(str(item["orderID"]) for item in items)
    emails = Counter(str(m["Subject"]).removeprefix("New order ") for m in smtp.mailbox.messages)
    attempted = {f"order-{n:05d}" for n in range(ORDERS)}
    report = {
        "orders": ORDERS,
        "acknowledged": len(acked),
        "kills": len(chaos.kills),
        "kills_by_point": dict(Counter(chaos.kills)),
        "tree_kills": chaos.tree_kills,
        "environment_kills": chaos.kills_of["environment"],
        "front_door_kills": chaos.kills_of["front door"],
        "items": len(items),
        "emails": len(smtp.mailbox.messages),
        "lost_items": sorted(r for r in acked if r not in refs),
        "lost_emails": sorted(r for r in acked if emails[r] == 0),
        "duplicated_items": sorted(r for r, n in refs.items() if n > 1),
        "duplicated_emails": sorted(r for r, n in emails.items() if n > 1),
        "unexpected": sorted(set(refs) - attempted),
        "stored_but_unacknowledged": len(set(refs) - set(acked)),
        "dead_lettered_then_redriven": dead_lettered,
        "dead_letters_left": dead.get("POC-DLQ", 0),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "crash-report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v if not isinstance(v, list) else len(v) for k, v in report.items()}))
    assert report["kills"] >= 20
    assert report["environment_kills"] >= LEAST_KILLS_OF["environment"]
    assert report["front_door_kills"] >= LEAST_KILLS_OF["front door"]
    assert report["acknowledged"] >= ORDERS * 0.95
    assert report["lost_items"] == []
    assert report["lost_emails"] == []
    assert report["duplicated_items"] == []
    # A kill of the runtime alone sends no email twice (its delivery process records what
    # it sent); a kill of the whole tree may send again only what was in flight on each of
    # the delivery process's SMTP connections: at most one email per connection per kill,
    # with the same Message-ID (`sns.sent_log`).
    assert report["tree_kills"] >= 3
    assert len(report["duplicated_emails"]) <= report["tree_kills"] * SMTP_CONNECTIONS
    for ref in report["duplicated_emails"]:
        copies = {
            str(m["Message-ID"])
            for m in smtp.mailbox.messages
            if str(m["Subject"]) == f"New order {ref}"
        }
        assert len(copies) == 1, copies  # one Message-ID: the receiver can drop the copy
    assert report["unexpected"] == []
    assert report["dead_letters_left"] == 0
