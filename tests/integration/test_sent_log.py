"""A process killed in the middle of a batch of deliveries: on restart, what the peer had
accepted is recorded as delivered and not sent again (`sns.sent_log`); only the delivery in
flight at the kill may go twice. A real kill: the first runtime is a process of its own that
dies by SIGKILL inside the provider's call, with no cleanup at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sluiceway.local import Admin, LocalEngine, Settings
from sluiceway.sns.sms import Sms

APP = """
from sluiceway import App

app = App("texts")
"""

FIRST_RUN = """
import json, os, signal, sys
sys.path.insert(0, {folder!r})
from texts_app import app
from sluiceway.local import LocalEngine, Settings

class DiesOnTheFourth:
    def __init__(self):
        self.count = 0
    def send(self, sms):
        self.count += 1
        if self.count == 4:  # killed while handing over the fourth text
            os.kill(os.getpid(), signal.SIGKILL)
        with open({accepted!r}, "a") as out:
            out.write(sms.phone + "\\n")
        return sms.message_id
    def close(self):
        pass

engine = LocalEngine(app, Settings(data_dir={data!r}, durability="full"), env={{}},
                     sms=DiesOnTheFourth()).open()
for n in range(6):
    app.sms.publish(f"+1415555010{{n}}", f"text {{n}}")
engine.drain()
"""


class Recording:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, sms: Sms) -> str:
        self.sent.append(sms.phone)
        return sms.message_id

    def close(self) -> None:
        return None


def test_texts_the_provider_accepted_before_a_kill_are_not_sent_again(tmp_path: Path) -> None:
    folder, data, accepted = tmp_path, tmp_path / "data", tmp_path / "accepted.txt"
    (folder / "texts_app.py").write_text(APP)
    script = FIRST_RUN.format(folder=str(folder), data=str(data), accepted=str(accepted))
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False)
    assert died.returncode == -9
    first = accepted.read_text().split()
    assert len(first) == 3  # the provider took three, then the process died
    assert (data / "outbox" / "sent-runtime.log").read_text().split() != []

    sys.path.insert(0, str(folder))
    try:
        from texts_app import app
    finally:
        sys.path.remove(str(folder))
    provider = Recording()
    with LocalEngine(app, Settings(data_dir=data), env={}, sms=provider) as engine:
        engine.drain()
    # Each number got its text once: the three accepted are recorded, the rest sent now.
    assert sorted(first + provider.sent) == [f"+1415555010{n}" for n in range(6)]
    with Admin(data) as admin:
        assert [d.status for d in admin.deliveries()] == ["delivered"] * 6
    assert not (data / "outbox" / "sent-runtime.log").exists()  # all of it recorded
    assert json.loads((data / "store.json").read_text())["file"] == "sluiceway.db"
