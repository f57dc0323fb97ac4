"""The app the wire benchmark runs: one queue and one table (partition and sort key)."""

from sluiceway import App

app = App("wire-bench")
queue = app.queue("bench-queue")
table = app.table("bench-table", partition_key="pk", sort_key=("sk", "N"))
