"""The console's trace pages: the recent traces, and one trace as a waterfall of its hops,
each linked to what it touched."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from sluiceway.core import traces
from sluiceway.local.console.rendering import PageBase, quoted
from sluiceway.local.console.request import Request, Response


class TracePages(PageBase):
    def traces_page(self, request: Request) -> Response:
        return self.render("traces.html", traces=self.store.traces.recent(50))

    def traces_fragment(self, request: Request) -> Response:
        return self.render("_traces.html", traces=self.store.traces.recent(50))

    def trace_page(self, request: Request) -> Response:
        return self._trace(request, "trace.html")

    def trace_fragment(self, request: Request) -> Response:
        return self._trace(request, "_trace.html")

    def _trace(self, request: Request, template: str) -> Response:
        trace_id = request.params[0]
        hops = self.store.traces.hops(trace_id)
        if not hops:
            return self.not_found(request, f"no trace {trace_id!r} (kept 24 hours)")
        return self.render(template, trace_id=trace_id, **_waterfall(hops))


def _waterfall(hops: list[traces.Hop]) -> dict[str, Any]:
    """Each hop's offset from the trace's start and its bar on a shared scale."""
    start = hops[0].at_ms
    end = max(h.at_ms + (h.duration_ms or 0) for h in hops)
    span = max(end - start, 1)
    width = 600
    rows = []
    for hop in hops:
        offset = hop.at_ms - start
        rows.append(
            {
                "hop": hop,
                "offset": offset,
                "x": min(width - 2, round(offset / span * width)),
                "w": max(2, round((hop.duration_ms or 0) / span * width)),
                "href": _hop_link(hop),
            }
        )
    return {"rows": rows, "span": round(span, 1), "width": width, "started": start}


def _hop_link(hop: traces.Hop) -> str | None:
    """Where the console shows what a hop touched."""
    name, detail = quoted(hop.name), hop.detail
    if hop.kind == "send":
        return f"/console/queues/{name}"
    if hop.kind == "invoke":
        return f"/console/mappings#function-{name}"
    if hop.kind == "item" and isinstance(detail.get("keys"), dict):
        key = json.dumps(detail["keys"], separators=(",", ":"))
        return f"/console/tables/{name}/item?{urlencode({'key': key})}"
    if hop.kind == "publish":
        return f"/console/deliveries?{urlencode({'topic': hop.name})}"
    if hop.kind == "delivery" and isinstance(detail.get("delivery_id"), int):
        return f"/console/deliveries/{detail['delivery_id']}"
    return None
