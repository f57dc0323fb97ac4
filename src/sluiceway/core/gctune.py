"""Garbage-collector settings for the long-running processes (the runtime, the delivery
process)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """What is loaded by now (modules, the app, the engine) lives as long as the process:
    keep the collector from scanning it again and again, and let young objects (a request,
    a batch) pile up longer before a collection. Reference counting frees nearly all of them
    anyway; the cyclic collector only has cycles to find. Worth a few percent of the CPU
    per order (benchmarks/README.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
