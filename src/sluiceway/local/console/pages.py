"""The console's pages, fragments and actions, each a function of a request to a response:
the map of the app here, the rest by what they show (queues, tables, mappings, deliveries,
traces) in modules of their own."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluiceway.local.console import pipeline
from sluiceway.local.console.delivery_pages import DeliveryPages, MailIndex
from sluiceway.local.console.mapping_pages import MappingPages
from sluiceway.local.console.queue_pages import QueuePages
from sluiceway.local.console.request import Request, Response
from sluiceway.local.console.table_pages import TablePages
from sluiceway.local.console.trace_pages import TracePages

if TYPE_CHECKING:
    from sluiceway.local.engine import LocalEngine


class Pages(QueuePages, TablePages, MappingPages, DeliveryPages, TracePages):
    def __init__(self, engine: LocalEngine, *, csrf: str) -> None:
        super().__init__(engine, csrf=csrf)
        self.pipeline = pipeline.build(engine.graph, engine.parameters)
        self.mail = MailIndex(Path(engine.settings.data_dir) / "maildir")

    # -- the map ------------------------------------------------------------------------

    def map_page(self, request: Request) -> Response:
        return self.render("map.html", **self._map())

    def map_fragment(self, request: Request) -> Response:
        return self.render("_map.html", **self._map())

    def _map(self) -> dict[str, Any]:
        counts = pipeline.counts(
            self.pipeline,
            self._cx(),
            self.registry,
            self.engine.mappings,
            self._now_ms(),
            self.engine.metrics,
        )
        return {
            "p": self.pipeline,
            "counts": counts,
            "blank": pipeline.Count(""),
            "node_width": pipeline.NODE_WIDTH,
            "node_height": pipeline.NODE_HEIGHT,
        }
