"""Stream mapping semantics, checked by Hypothesis over random programs.

Items are written and deleted while a handler fails whole batches that hold a "poisoned"
item, with bisect on, 2 retries and an on-failure queue. After any program, once the mapping
has run to the end:

- every stream record was processed exactly once, or reported to on_failure exactly once,
  never both and never neither (checkpoint and failure report commit together);
- only records of items that were poisoned at some point were reported;
- each item's records were processed in stream order (across 1 to 3 parallel lanes);
- no record was handed to the handler after it was processed or reported.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from sluiceway import App
from sluiceway.core.clock import VirtualClock
from sluiceway.local import LocalEngine, Settings

KEYS = ["a", "b", "c", "d", "e"]
EXAMPLES = 100
STEPS = 30


class StreamMachine(RuleBasedStateMachine):
    @initialize(lanes=st.integers(1, 3), batch=st.integers(1, 5))
    def open(self, lanes: int, batch: int) -> None:
        self.poisoned: set[str] = set()
        self.ever_poisoned: set[str] = set()
        self.processed: list[tuple[int, str]] = []  # (sequence, key) in processing order
        self.finished: set[int] = set()
        self.handed_after_finish: list[int] = []
        self.versions = 0

        app = App("model")
        table = app.table("items", partition_key="id", stream="NEW_IMAGE")
        failures = app.queue("failures")

        @app.on_stream(
            table,
            starting_position="TRIM_HORIZON",
            batch_size=batch,
            parallelization_factor=lanes,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=2,
            on_failure=failures,
            name="fn",
        )
        def handler(event: dict[str, Any], context: Any) -> None:
            records = [
                (int(r["dynamodb"]["SequenceNumber"]), r["dynamodb"]["Keys"]["id"]["S"])
                for r in event["Records"]
            ]
            self.handed_after_finish += [s for s, _ in records if s in self.finished]
            if any(key in self.poisoned for _, key in records):
                raise RuntimeError("poisoned")
            self.processed += records
            self.finished.update(s for s, _ in records)

        self.table = table
        self.clock = VirtualClock()
        directory = Path(tempfile.mkdtemp())
        settings_ = Settings(data_dir=directory, durability="relaxed")
        self.engine = LocalEngine(app, settings_, clock=self.clock, env={}).open()

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self._finish()
            self.engine.close()

    @rule(key=st.sampled_from(KEYS))
    def put(self, key: str) -> None:
        self.versions += 1
        self.table.put_item({"id": key, "v": self.versions})

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: str) -> None:
        self.table.delete_item({"id": key})

    @rule(key=st.sampled_from(KEYS))
    def poison(self, key: str) -> None:
        self.poisoned.add(key)
        self.ever_poisoned.add(key)

    @rule(key=st.sampled_from(KEYS))
    def cure(self, key: str) -> None:
        self.poisoned.discard(key)

    @rule()
    def run(self) -> None:
        self.engine.drain()

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    def _finish(self) -> None:
        self.engine.drain(advance_time=True)
        records = {
            int(r["seq"]): r["keys"]
            for r in self.engine.store.query("SELECT seq, keys FROM stream_records")
        }
        everything = {10**20 + seq: json.loads(keys)["id"]["S"] for seq, keys in records.items()}
        reported = self._reported(everything)
        done = [s for s, _ in self.processed]
        assert len(done) == len(set(done)), "a record was processed twice"
        assert not set(done) & set(reported), "a record was both processed and reported"
        assert set(done) | set(reported) == set(everything), "a record went missing"
        assert {everything[s] for s in reported} <= self.ever_poisoned
        assert self.handed_after_finish == []
        for key in KEYS:
            order = [s for s, k in self.processed if k == key]
            assert order == sorted(order), f"item {key}'s records came out of order"

    def _reported(self, everything: dict[int, str]) -> list[int]:
        """The sequence numbers the failure reports cover (each report names a range of
        one lane's records)."""
        lanes = self.engine.mappings[0].lanes  # type: ignore[union-attr]
        notices = [
            json.loads(r["body"])["DDBStreamBatchInfo"]
            for r in self.engine.store.query("SELECT body FROM messages")
        ]
        covered: list[int] = []
        for notice in notices:
            first, last = int(notice["startSequenceNumber"]), int(notice["endSequenceNumber"])
            lane = int(notice["shardId"].split("-")[1]) - 1
            lane_of = {s: _lane(everything, s, lanes) for s in everything}
            covered += [s for s in everything if first <= s <= last and lane_of[s] == lane]
        return covered


def _lane(everything: dict[int, str], sequence: int, lanes: int) -> int:
    import zlib

    keys = json.dumps({"id": {"S": everything[sequence]}}, separators=(",", ":"), sort_keys=True)
    return zlib.crc32(keys.encode()) % lanes


StreamMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_stream_mappings_never_lose_double_or_reorder = StreamMachine.TestCase
