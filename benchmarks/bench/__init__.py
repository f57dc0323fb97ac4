"""sluiceway's benchmark harness: run with `benchmarks/run` (see benchmarks/README.md)."""
