"""`BatchWriter`: boto3's ``table.batch_writer()`` for the table handle: puts and deletes
gathered and sent 25 at a time as BatchWriteItem, the rest when the block ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

MAX_BATCH = 25


class BatchWriter:
    """>>> with orders.batch_writer() as batch:                 # doctest: +SKIP
    ...     batch.put_item(Item={"orderID": "o-1"})
    """

    def __init__(
        self,
        table: str,
        send: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        overwrite_by_pkeys: Sequence[str] | None = None,
    ) -> None:
        self._table = table
        self._send = send
        self._keys = tuple(overwrite_by_pkeys or ())
        self._pending: list[dict[str, Any]] = []

    def put_item(self, Item: Mapping[str, Any]) -> None:
        self._add({"PutRequest": {"Item": dict(Item)}}, Item)

    def delete_item(self, Key: Mapping[str, Any]) -> None:
        self._add({"DeleteRequest": {"Key": dict(Key)}}, Key)

    def _add(self, entry: dict[str, Any], values: Mapping[str, Any]) -> None:
        if self._keys:
            wanted = tuple(values.get(k) for k in self._keys)
            self._pending = [e for e in self._pending if self._key_of(e) != wanted]
        self._pending.append(entry)
        if len(self._pending) >= MAX_BATCH:
            self._flush()

    def _key_of(self, entry: Mapping[str, Any]) -> tuple[Any, ...]:
        body = entry.get("PutRequest", {}).get("Item") or entry["DeleteRequest"]["Key"]
        return tuple(body.get(k) for k in self._keys)

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            answer = self._send({"RequestItems": {self._table: batch}})
            self._pending = (
                list(answer.get("UnprocessedItems", {}).get(self._table, [])) + self._pending
            )

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._flush()
