"""An app that wires handler code written for Lambda (`lambda_style_handlers`) to its queues."""

from __future__ import annotations

import lambda_style_handlers

from sluiceway import App

app = App("lambda-style")
inbox = app.queue("inbox")
outbox = app.queue("outbox")
secret = app.queue("secret")
app.on_queue(inbox, uses=[outbox.sends])(lambda_style_handlers.relay)
