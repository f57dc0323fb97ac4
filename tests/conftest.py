from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from sluiceway import App
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine, Settings
from support import Mailbox, SmtpServer, Wire, gateway, smtp_server

EngineFactory = Callable[..., LocalEngine]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailbox(smtp: SmtpServer) -> Mailbox:
    return smtp.mailbox


@pytest.fixture
def make_engine(data_dir: Path, clock: VirtualClock) -> Iterator[EngineFactory]:
    """Open engines on the test's data directory and virtual clock; all closed afterwards."""
    engines: list[LocalEngine] = []

    def make(app: App, **settings: Any) -> LocalEngine:
        settings.setdefault("data_dir", data_dir)
        engine = LocalEngine(app, Settings(**settings), clock=clock, env={}).open()
        engines.append(engine)
        return engine

    yield make
    for engine in reversed(engines):
        engine.close()


ServeFactory = Callable[..., Wire]


@pytest.fixture
def serve(make_engine: EngineFactory) -> Iterator[ServeFactory]:
    """serve(app, front_door=False, **settings): the app's engine behind a real HTTP server
    (`Wire`), for boto3 clients signed as its admin or one of its functions."""
    with ExitStack() as stack:

        def start(app: App, *, front_door: bool = False, **settings: Any) -> Wire:
            engine = make_engine(app, **settings)
            return Wire(engine, stack.enter_context(gateway(engine, front_door=front_door)))

        yield start
