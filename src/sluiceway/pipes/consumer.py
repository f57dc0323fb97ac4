"""EventBridge Pipes: a source's records, filtered, enriched, delivered to a target.

A pipe rides on the same mappings as Lambda's event sources (`stream_mapping.py`,
`queue_mapping.py`), so it polls, batches, retries, bisects, expires and reports discarded
records exactly as they do; only what happens to a batch differs, and that is `PipeConsumer`:

* the batch is the bare JSON array of records (not ``{"Records": [...]}``);
* an optional enrichment function gets that array; what it returns is what the target gets
  (nothing, if it returns nothing or an empty list: the batch is then done);
* a function target is invoked with it and may answer ``{"batchItemFailures":
  [{"itemIdentifier": eventID}]}`` (a stream record's ``eventID``, a message's
  ``messageId``); a queue target gets one message per record, a topic target one publish per
  record, committed with the checkpoint (so delivered once per batch that succeeds);
* a failing enrichment or target fails the batch, which the source's retry policy handles;
  what it finally gives up on goes to the pipe's dead-letter queue or topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from sluiceway.awslambda.invoke import Invoker, Outcome
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import ids, naming
from sluiceway.core import traces as traces_module
from sluiceway.core.store import Op, Tx
from sluiceway.pipes.spec import PipeSpec

Deliver = Callable[[str], Op[Any]]  # a record's JSON text -> the op that sends it


class PipeConsumer:
    """What a pipe does with a batch: enrichment, then its target."""

    pipe = True

    def __init__(
        self,
        spec: PipeSpec,
        *,
        invoker: Invoker,
        functions: dict[str, FunctionSpec],
        deliver: Deliver | None,
        region: naming.Region,
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.name = f"pipe:{spec.name}"
        self.arn = naming.pipe_arn(region, spec.name)
        self.enrichment = None if spec.enrichment is None else functions[spec.enrichment]
        self.target = functions[spec.target.name] if spec.target.kind == "function" else None
        self.deliver = deliver

    def invoke(self, event: Any, traces: Sequence[str | None] = ()) -> Outcome:
        started = time.perf_counter()
        deferred: list[Op[Any]] = [self._hop(traces, event)] if any(traces) else []
        payload = event
        if self.enrichment is not None:
            enriched = self.invoker.invoke(self.enrichment, event, traces)
            if not enriched.ok:
                return enriched
            deferred += enriched.deferred
            payload = enriched.result
            if payload is None or payload == []:
                return _done(enriched.request_id, deferred, started)
            traces = _realigned(traces, payload)
        if self.target is not None:
            outcome = self.invoker.invoke(self.target, payload, traces)
            if not outcome.ok:
                return outcome
            return Outcome(
                outcome.request_id,
                outcome.result,
                None,
                (*deferred, *outcome.deferred),
                time.perf_counter() - started,
            )
        assert self.deliver is not None
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            text = item if isinstance(item, str) else json.dumps(item, default=str)
            deferred.append(self.deliver(text))
        return _done(ids.uuid4(), deferred, started)

    def _hop(self, traces: Sequence[str | None], event: Any) -> Op[None]:
        """The pipe's part in each trace of its batch, committed with the batch."""
        size = len(event) if isinstance(event, list) else 1
        detail = {"records": size, "target": f"{self.spec.target.kind} {self.spec.target.name}"}

        def record(tx: Tx) -> None:
            for trace in sorted({t for t in traces if t is not None}):
                traces_module.hop(tx, trace, "pipe", self.spec.name, detail)

        return record


def _realigned(traces: Sequence[str | None], payload: Any) -> Sequence[str | None]:
    """The traces of what the enrichment returned: record for record when it returned as
    many, all of one trace when the batch had one, else none can be told apart."""
    count = len(payload) if isinstance(payload, list) else 1
    if len(traces) == count:
        return traces
    distinct = {t for t in traces if t is not None}
    return [distinct.pop()] * count if len(distinct) == 1 else ()


def _done(request_id: str, deferred: list[Op[Any]], started: float) -> Outcome:
    return Outcome(request_id, None, None, tuple(deferred), time.perf_counter() - started)
