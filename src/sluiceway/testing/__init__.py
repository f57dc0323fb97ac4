"""Test your app: the app in this process on a virtual clock, every email, text and MQTT
message it sent, and switches to make its peers fail.

    from sluiceway.testing import run_app

    def test_an_order_is_emailed() -> None:
        with run_app("orders") as app:
            assert app.http.post("/orders", json={"item": "gloves"}).status_code == 200
            app.drain()
            (mail,) = app.emails
            assert "item: gloves" in mail.get_content()

With pytest the same comes as fixtures (`sluiceway.testing.plugin`, registered by the
package): ``sluiceway`` runs apps, ``sluiceway_app`` the one a marker or the ini names. The
README's "Testing your app" has the whole reference.

This package is what pytest imports at start in every environment sluiceway is installed
in, so it imports nothing heavy until one of its names is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluiceway.testing.faults import Faults, InjectedFailure
    from sluiceway.testing.harness import Invocation, RunningApp, run_app
    from sluiceway.testing.outbound import MqttMessage, WebhookCall

__all__ = [
    "Faults",
    "InjectedFailure",
    "Invocation",
    "MqttMessage",
    "RunningApp",
    "WebhookCall",
    "run_app",
]

_WHERE = {
    "Faults": "faults",
    "InjectedFailure": "faults",
    "Invocation": "harness",
    "RunningApp": "harness",
    "run_app": "harness",
    "MqttMessage": "outbound",
    "WebhookCall": "outbound",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sluiceway.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"sluiceway.testing.{module}"), name)
