"""The console's table pages: the tables, a table's items (searched, a page at a time), an
item and its stream history."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.core.errors import SluicewayError
from sluiceway.dynamodb import tables
from sluiceway.dynamodb.info import TableInfo
from sluiceway.local.console.rendering import PAGE_SIZE, PageBase, int_or, plain_item
from sluiceway.local.console.request import Request, Response


class TablePages(PageBase):
    def tables_page(self, request: Request) -> Response:
        cx = self._cx()
        rows = [
            {"info": info, "items": tables.count(cx, info)}
            for info in sorted(self.registry.tables.values(), key=lambda t: t.name)
        ]
        return self.render("tables.html", rows=rows)

    def _items(self, info: TableInfo, request: Request) -> dict[str, Any]:
        contains = request.query.get("contains", "")
        offset = max(0, int_or(request.query.get("offset"), 0))
        found = tables.browse(
            self._cx(), info, contains=contains or None, limit=PAGE_SIZE + 1, offset=offset
        )
        return {
            "info": info,
            "items": [_item_row(info, item) for item in found[:PAGE_SIZE]],
            "contains": contains,
            "offset": offset,
            "more": len(found) > PAGE_SIZE,
            "total": tables.count(self._cx(), info),
        }

    def table_page(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request, f"no table named {request.params[0]!r}")
        return self.render("table.html", **self._items(info, request))

    def items_fragment(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request)
        return self.render("_items.html", **self._items(info, request))

    def item_page(self, request: Request) -> Response:
        info = self._table(request.params[0])
        if info is None:
            return self.not_found(request)
        try:
            key = json.loads(request.query.get("key", ""))
            if not isinstance(key, dict):
                raise ValueError("a key is a JSON object")
            item = tables.get(self._cx(), info, key)
            history = tables.history(self._cx(), info, key) if info.spec.stream else []
        except (ValueError, SluicewayError, KeyError, TypeError) as error:
            return self.render("message_page.html", 400, title="Bad key", text=str(error))
        return self.render("item.html", info=info, key=key, item=item, history=history)


def _item_row(info: TableInfo, item: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """An item with its key as the item page's address takes it, and as words."""
    keys = tables.keys_of(info, item)
    plain = plain_item(keys)
    words = " / ".join(str(plain.get(name)) for name in info.spec.key_names)
    return json.dumps(keys, separators=(",", ":")), words, item
