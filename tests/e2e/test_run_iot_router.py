"""`sluiceway run iot-router` as a new user meets it (seed 004): the seed's test steps with
the CLI, a real MQTT subscriber on Mosquitto, and a broker that goes away for a while."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime import RuntimeProcess, cli

from mqtt_devices import Subscriber, accepting, require, system_mosquitto
from support import free_port, wait_until

pytestmark = pytest.mark.slow


def seed_message(n: int = 1, client: str = "DemoClient") -> dict[str, str]:
    return {
        "ClientID": client,
        "QRCode": "vwWT)Np=+6-vGzTiopED",
        "Time": "20231201T231010",
        "STATE": "ACTIVE",
        "LOCATION": "LT100LN200",
        "TEST": f"demo message 26-09 - message {n}",
    }


def run_cli(data: Path, *args: str) -> str:
    done = cli(*args, data_dir=data)
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_client(data: Path, *scopes: str) -> tuple[str, str]:
    flags = [part for scope in scopes for part in ("--scope", scope)]
    made = json.loads(run_cli(data, "clients", "create", "shop", *flags, "--json"))
    return made["client_id"], made["client_secret"]


def token(data: Path, client: tuple[str, str], scope: str) -> str:
    answer = json.loads(
        run_cli(
            data, "token", "--client-id", client[0], "--client-secret", client[1], "--scope", scope
        )
    )
    return str(answer["access_token"])


def queue_stats(data: Path) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in json.loads(run_cli(data, "queues", "--json"))}


@pytest.fixture
def mosquitto() -> int:
    return system_mosquitto()


def test_the_seeds_test_steps_relay_the_json_to_the_subscribed_device(
    tmp_path: Path, mosquitto: int
) -> None:
    data = tmp_path / "data"
    topic = "MyTopic"  # the seed's
    runtime = RuntimeProcess(data, ["iot-router", "--mqtt", f"mqtt://127.0.0.1:{mosquitto}"])
    runtime.start()
    try:
        # The banner's lines follow the ready line, which is what start() waits for.
        banner = f"mqtt: broker mqtt://127.0.0.1:{mosquitto}"
        wait_until(lambda: any(banner in line for line in runtime.output))
        url = runtime.url
        # 1. the lookup row; 2. a device subscribed; 3. a token with devices/send.
        run_cli(data, "put-item", "clients", json.dumps({"ClientID": "DemoClient", "Topic": topic}))
        shop = new_client(data, "devices/send")
        access = token(data, shop, "devices/send")
        with Subscriber(mosquitto, topic) as device:
            # 6. the seed puts the token itself in Authorization (no "Bearer ").
            body = json.dumps(seed_message())
            posted = httpx.post(
                f"{url}/messages",
                content=body,
                headers={"Authorization": access, "Content-Type": "application/json"},
                timeout=10,
            )
            assert posted.status_code == 200, posted.text
            assert set(posted.json()) >= {"MessageId", "MD5OfMessageBody"}
            (message,) = device.wait_for(1)
        assert message.payload == body.encode()

        # No token, a garbage one, one without the scope: refused, nothing queued.
        reader = new_client(data, "devices/read")
        refusals = [
            httpx.post(f"{url}/messages", json=seed_message(), timeout=10),
            httpx.post(
                f"{url}/messages",
                json=seed_message(),
                headers={"Authorization": "Bearer not.a.token"},
                timeout=10,
            ),
            httpx.post(
                f"{url}/messages",
                json=seed_message(),
                headers={"Authorization": f"Bearer {token(data, reader, 'devices/read')}"},
                timeout=10,
            ),
        ]
        assert [r.status_code for r in refusals] == [401, 401, 403]
        assert all("www-authenticate" in r.headers for r in refusals)
        stats = queue_stats(data)["DeviceMessages"]
        assert (stats["visible"], stats["in_flight"]) == (0, 0)

        # An attack never reaches the authorizer.
        attack = httpx.post(
            f"{url}/messages",
            json={"ClientID": "x' OR '1'='1' --"},
            headers={"Authorization": access},
            timeout=10,
        )
        assert attack.status_code == 403
        assert attack.json()["rule"] == "sql-injection:SQLi_BODY"

        # Over the rate limit (100 a minute per address): 403 naming the rule.
        statuses = [
            httpx.post(f"{url}/messages", json=seed_message(n), timeout=10).status_code
            for n in range(100)
        ]
        assert statuses[-1] == 403
        limited = httpx.post(f"{url}/messages", json=seed_message(), timeout=10)
        assert limited.status_code == 403
        assert limited.json() == {
            "message": "Forbidden: blocked by firewall rule per-ip-rate",
            "code": "FirewallBlocked",
            "rule": "per-ip-rate",
        }
        counters = json.loads(run_cli(data, "firewall", "--json"))
        assert counters["rules"]["per-ip-rate"]["blocked"] >= 1
    finally:
        runtime.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    require("mosquitto")
    broker = MosquittoProcess(tmp_path / "mosquitto", free_port())
    broker.start()
    yield broker
    broker.stop()


class MosquittoProcess:
    """A Mosquitto of the test's own, persistent, so that a device's session (and the QoS 1
    messages queued for it) outlives a restart, as on a real broker."""

    def __init__(self, home: Path, port: int) -> None:
        home.mkdir()
        self.home, self.port = home, port
        self.config = home / "mosquitto.conf"
        self.config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {home}/\nautosave_interval 1\nuser root\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.home / "log").open("ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(lambda: accepting(self.port), timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def test_messages_posted_while_the_broker_is_down_arrive_in_order_when_it_returns(
    tmp_path: Path, own_mosquitto: MosquittoProcess
) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(
        data, ["iot-router", "--mqtt", f"mqtt://127.0.0.1:{own_mosquitto.port}"]
    ).start()
    device = Subscriber(
        own_mosquitto.port, "devices/DemoClient", client_id="demo-device", clean_session=False
    )
    try:
        url = runtime.url
        run_cli(
            data, "put-item", "clients", '{"ClientID": "DemoClient", "Topic": "devices/DemoClient"}'
        )
        access = token(data, new_client(data, "devices/send"), "devices/send")
        post = {"headers": {"Authorization": f"Bearer {access}"}, "timeout": 10}
        with device:
            assert httpx.post(f"{url}/messages", json=seed_message(0), **post).status_code == 200
            device.wait_for(1)

            own_mosquitto.stop()
            for n in range(1, 21):
                assert (
                    httpx.post(f"{url}/messages", json=seed_message(n), **post).status_code == 200
                )

            def waiting() -> list[dict[str, Any]]:
                shown = json.loads(run_cli(data, "deliveries", "--json"))
                return [d for d in shown if d["protocol"] == "mqtt" and d["status"] == "pending"]

            wait_until(lambda: len(waiting()) == 20)
            assert "unreachable" in (waiting()[0]["last_error"] or "")

            own_mosquitto.start()
            # The broker redelivers (DUP set) a message whose PUBACK from the device it had
            # not processed before it stopped: QoS 1 between broker and device, not ours.
            wait_until(lambda: sum(not m.dup for m in device.messages) >= 21, timeout=30)
            arrived = [m for m in device.messages if not m.dup]
        numbers = [json.loads(m.payload)["TEST"].rsplit(" ", 1)[1] for m in arrived]
        assert numbers == [str(n) for n in range(21)]
        wait_until(lambda: not waiting())
    finally:
        runtime.stop()
