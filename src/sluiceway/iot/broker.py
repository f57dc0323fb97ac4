"""The MQTT broker the runtime embeds when no ``--mqtt`` broker is given.

`EmbeddedBroker` runs an MQTT 3.1.1 broker inside the process, on 127.0.0.1, so a device
(any MQTT client: ``mosquitto_sub -h 127.0.0.1 -p PORT -t '#'``) can subscribe to what the
app publishes without installing a broker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from functools import partial
from types import TracebackType
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker

log = logging.getLogger("sluiceway.mqtt")


class EmbeddedBroker:
    """An MQTT 3.1.1 broker in this process: amqtt on its own thread and event loop.

        with EmbeddedBroker() as broker:       # 127.0.0.1, a free port
            print(broker.url)                  # mqtt://127.0.0.1:PORT
            MqttPublisher(broker.url).publish("MyTopic", b"hi", qos=1)

    Anonymous clients are welcome (it listens on loopback only); QoS 0 and 1 and retained
    messages work, in memory. Stopped and started again, it listens on the same port, so
    clients reconnect to the URL they were given.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port it listens on (known once started, when asked for port 0)."""
        if self._port == 0:
            raise RuntimeError("the embedded MQTT broker has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        """Listen and serve; returns once clients can connect. Raises `OSError` if the port
        is taken. Does nothing if already started."""
        with self._lock:
            if self._thread is not None:
                return self
            _quiet_amqtt()
            ready: Future[tuple[int, asyncio.Event]] = Future()
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run, args=(loop, ready), name="sluiceway-mqtt-broker", daemon=True
            )
            thread.start()
            try:
                self._port, self._stopping = ready.result()
            except BaseException:
                thread.join()
                raise
            self._loop, self._thread = loop, thread
            return self

    def stop(self) -> None:
        """Disconnect every client and stop listening; does nothing if not started."""
        with self._lock:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            self._thread = self._loop = self._stopping = None
            if thread is None or loop is None or stopping is None:
                return
            if thread.is_alive():
                loop.call_soon_threadsafe(stopping.set)
            thread.join()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: Future[tuple[int, asyncio.Event]]
    ) -> None:
        try:
            loop.run_until_complete(self._serve(ready))
        except Exception as error:
            if ready.done():
                log.exception("the embedded MQTT broker failed")
            else:
                ready.set_exception(error)
        finally:
            _cancel_leftovers(loop)
            loop.close()

    async def _serve(self, ready: Future[tuple[int, asyncio.Event]]) -> None:
        broker = Broker(_BROKER_CONFIG)
        await broker.start()
        clients: set[asyncio.StreamWriter] = set()
        try:
            server = await asyncio.start_server(
                partial(self._accept, broker, clients), self.host, self._port
            )
        except BaseException:
            await _shut_down(broker)
            raise
        stopping = asyncio.Event()
        ready.set_result((server.sockets[0].getsockname()[1], stopping))
        await stopping.wait()
        server.close()
        # Cut the clients first: amqtt waits for each client's reader to notice, and a
        # reader still blocked on an open socket would keep shutdown waiting.
        for writer in clients:
            writer.transport.abort()
        await _shut_down(broker)
        await server.wait_closed()

    @staticmethod
    async def _accept(
        broker: Any,
        clients: set[asyncio.StreamWriter],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        clients.add(writer)
        try:
            await broker.external_connected(
                StreamReaderAdapter(reader), StreamWriterAdapter(writer), "default"
            )
        finally:
            clients.discard(writer)


# The socket is ours (`asyncio.start_server` on port 0, so the real port is known); amqtt
# serves each connection handed to it through its "external" listener.
_BROKER_CONFIG: dict[str, Any] = {
    "listeners": {"default": {"type": "external"}},
    "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
}
# Enough for amqtt to close sessions whose sockets are already cut; a bound, in case one
# hangs, so that stopping stays fast.
_SHUTDOWN_TIMEOUT = 2.0


async def _shut_down(broker: Any) -> None:
    try:
        await asyncio.wait_for(broker.shutdown(), _SHUTDOWN_TIMEOUT)
    except TimeoutError:
        log.warning("the embedded MQTT broker did not stop within %s s", _SHUTDOWN_TIMEOUT)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what amqtt left running (per-client tasks) so the loop closes cleanly."""
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.wait(leftovers, timeout=_SHUTDOWN_TIMEOUT))


def _quiet_amqtt() -> None:
    """amqtt logs every connection, and warns about a PUBACK that overtook its own
    bookkeeping (harmless: the message was delivered). Unless the user configured its
    logger, only its errors are shown."""
    for name in ("amqtt", "transitions"):  # amqtt's session state machine logs each step
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
